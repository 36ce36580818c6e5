// Package browser holds the console's browser tests: real headless
// Chromium driven with chromedp. It is a module of its own, for tests
// only, so that the core module gains no dependency.
//
// The tests run when AGENTTRUST_TEST_CHROMIUM names the browser (e.g.
// /usr/bin/chromium) and skip otherwise; CI sets it and fails on a skip.
// Each test saves a screenshot under AGENTTRUST_TEST_ARTIFACTS (default
// /tmp/agenttrust-browser-artifacts).
package browser
