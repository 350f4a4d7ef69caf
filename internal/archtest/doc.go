// Package archtest checks the import rules of the README's layout table
// against the tree (its test runs go list). It has no code of its own.
package archtest
