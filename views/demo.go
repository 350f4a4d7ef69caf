package views

import "time"

// DemoPanel is the demo's control panel, shown on every page in demo mode.
type DemoPanel struct {
	CSS, Script string // the panel's own stylesheet and script
	Return      string // the page to come back to after an action
	// Who is signed in: Current is the demo login's email ("" for nobody),
	// Customer whether that person is a customer (the connection actions need one).
	Current  string
	Customer bool
	Logins   []DemoLogin
	// Platform is "normal", "failing" or "slow"; Until is when a fault ends.
	Platform string
	Until    time.Time
	// ResetReady is false when the data predates the seeded snapshot.
	ResetReady bool
	// TourStep is the guided tour's step to show (1–4), 0 for none.
	TourStep int
}

// DemoLogin is one of the demo's people.
type DemoLogin struct {
	Email, Name, Note string
}

// Story tells the salesperson where the demo stands and what to show next.
func (p DemoPanel) Story() string {
	who := "Nobody is signed in. Start as Alice, a customer with four connections, one of them expired."
	for _, l := range p.Logins {
		if l.Email == p.Current {
			who = "You are " + l.Name + ": " + l.Note + "."
		}
	}
	switch p.Platform {
	case "failing":
		return who + " The platform is down until " + p.Until.Local().Format("15:04:05") + ": reconnect now, the row waits with Finishing… and nothing is lost."
	case "slow":
		return who + " The platform is slow: a link token takes 10 s, and the page shows its progress meanwhile."
	}
	return who
}

// TourSteps is the number of steps of the guided tour.
const TourSteps = 4
