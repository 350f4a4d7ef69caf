//go:build race

package connections_test

// raceEnabled: the race detector slows the model test about tenfold, so it
// plays fewer sequences (the full count runs without it).
const raceEnabled = true
