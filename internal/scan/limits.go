package scan

import "time"

// Limits bound the work done on one top-level artifact. Hitting a limit makes
// the artifact inconclusive, never clean.
type Limits struct {
	// MaxDepth is how deep containers may nest (a zip in a tar is depth 2).
	MaxDepth int
	// MaxMembers is the most members read from one container.
	MaxMembers int
	// MaxMemberSize is the most bytes one decompressed member may expand to.
	MaxMemberSize int64
	// MaxExpanded is the most decompressed bytes for the whole artifact.
	MaxExpanded int64
	// MaxRatio is the largest decompressed/compressed ratio accepted for a
	// member bigger than RatioFloor.
	MaxRatio float64
	// RatioFloor: smaller members are exempt from the ratio check (small
	// highly compressible files are normal).
	RatioFloor int64
	// MemoryBuffer is the size up to which a decompressed member is kept in
	// memory; larger ones spill to a temporary file.
	MemoryBuffer int64
	// Timeout bounds the time spent on one top-level artifact.
	Timeout time.Duration
}

// DefaultLimits are generous for real models and tight for bombs.
func DefaultLimits() Limits {
	return Limits{
		MaxDepth:      6,
		MaxMembers:    200_000,
		MaxMemberSize: 8 << 30,
		MaxExpanded:   32 << 30,
		MaxRatio:      200,
		RatioFloor:    16 << 20,
		MemoryBuffer:  64 << 20,
		Timeout:       10 * time.Minute,
	}
}
