package main

// SyntheticRules gives the benchmarks of package main_test the command's
// synthetic rules, so both measure the same policies.
var SyntheticRules = syntheticRules
