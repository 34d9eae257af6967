package cluster

// EvenSplitRanges is EvenSplit as one range per master, without building a
// SlotSet each: rendering 16384 SlotSets costs seconds, 16384 ranges nothing.
// It returns nil when n is below 1 or above 16384.
func EvenSplitRanges(n int) []SlotRange { return evenSplitRanges(n) }
