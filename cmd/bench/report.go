package main

import (
	"fmt"
	"io"
	"net"
	"runtime"
	"strings"
	"time"
)

type row struct {
	name    string
	conns   int
	tool    string // wrk, or go for the flow driven by this program
	r       result
	budget  string
	verdict string
}

type report struct {
	rows         []row
	baseRPS      float64
	flows        int64
	rss          int64
	coldStart    time.Duration
	syncAccounts int
	syncTime     time.Duration
	syncRequests int64
	syncErr      error // the full sync did not finish
}

func passFail(ok bool) string {
	if ok {
		return "PASS"
	}
	return "FAIL"
}

func ms(d time.Duration) string {
	return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond))
}

func listen(addr string) (net.Listener, error) { return net.Listen("tcp", addr) }

func (rep *report) print(w io.Writer, cfg config) {
	store := "SQLite, one portal"
	if cfg.postgres() {
		store = "PostgreSQL, two portals sharing the load"
	}
	fmt.Fprintf(w, "\nPortal benchmark (%s): %d connections, %d customers, %d accounts synced; %s per scenario; %d CPUs\n\n",
		store, cfg.connections, cfg.customers, cfg.syncAccounts, cfg.duration, runtime.NumCPU())
	fmt.Fprintf(w, "| %-34s | %5s | %4s | %9s | %8s | %8s | %6s | %9s | %-26s | %-6s |\n",
		"scenario", "conns", "tool", "req/s", "p50", "p99", "errors", "×baseline", "budget", "result")
	fmt.Fprintf(w, "|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|\n", dashes(36), dashes(7), dashes(6), dashes(11), dashes(10), dashes(10), dashes(8), dashes(11), dashes(28), dashes(8))
	if len(rep.rows) == 0 {
		fmt.Fprintln(w, "(page load not run)")
	}
	for _, r := range rep.rows {
		ratio := "-"
		if rep.baseRPS > 0 {
			ratio = fmt.Sprintf("%.2f", r.r.RPS()/rep.baseRPS)
		}
		fmt.Fprintf(w, "| %-34s | %5d | %4s | %9.0f | %8s | %8s | %6d | %9s | %-26s | %-6s |\n",
			r.name, r.conns, r.tool, r.r.RPS(), ms(r.r.P50), ms(r.r.P99), r.r.Errors, ratio, r.budget, r.verdict)
	}
	fmt.Fprintf(w, "\nLink flows completed: %d (start → token → complete against the simulator)\n\n", rep.flows)
	fmt.Fprintf(w, "| %-44s | %-14s | %-16s | %-6s |\n", "figure", "value", "budget", "result")
	fmt.Fprintf(w, "|%s|%s|%s|%s|\n", dashes(46), dashes(16), dashes(18), dashes(8))
	line := func(name, value, budget string, ok bool) {
		fmt.Fprintf(w, "| %-44s | %-14s | %-16s | %-6s |\n", name, value, budget, passFail(ok))
	}
	if rep.rss > 0 {
		line("peak RSS of a portal under load (VmHWM)", fmt.Sprintf("%.1f MB", float64(rep.rss)/(1<<20)), fmt.Sprintf("≤ %d MB", budgetRSS>>20), rep.rss <= budgetRSS)
		line("cold start to the first 200 from /healthz", ms(rep.coldStart), "≤ "+ms(budgetColdStart), rep.coldStart <= budgetColdStart)
	}
	if rep.syncErr != nil {
		line(fmt.Sprintf("full sync of %d accounts: time", cfg.syncAccounts), "failed", fmt.Sprintf("≤ %s", budgetSync), false)
		return
	}
	if rep.syncRequests == 0 {
		return
	}
	line(fmt.Sprintf("full sync of %d accounts: time", rep.syncAccounts), fmt.Sprintf("%.2fs", rep.syncTime.Seconds()), fmt.Sprintf("≤ %s", budgetSync), rep.syncTime <= budgetSync)
	line("full sync: platform requests (token + pages)", fmt.Sprint(rep.syncRequests), fmt.Sprintf("≤ %d", budgetSyncRequests), rep.syncRequests <= budgetSyncRequests)
}

func dashes(n int) string { return strings.Repeat("-", n) }
