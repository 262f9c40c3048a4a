// Package attack holds what mlsec's black-box attacks share: the Oracle
// through which every query reaches the model (batched across concurrent
// attacks, counted exactly, refused beyond a budget), the feature Schema
// and the unit-cube Space that keeps every queried point within the
// data's bounds and mutability constraints, ROC statistics, and the rules
// (MLS-ADV-*) that turn measured risks into findings.
//
// The attacks themselves live in subpackages: evasion (HopSkipJump,
// Boundary, Square, SimBA), membership (threshold and shadow-model
// membership inference) and extraction (surrogate training from queries);
// redteam runs them together and judges the results. Like the rest of
// mlsec's analyzers they see the model only through its predictions, the
// way a client of its API would.
package attack
