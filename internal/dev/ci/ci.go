// Package ci holds the checks of the repository's GitHub workflows
// (.github/workflows): the supply-chain rules README "CI" states, held by
// ci_test.go. It has no code of its own.
package ci
