package bench

import (
	"time"

	"github.com/livetorrent/livetorrent/internal/status"
)

// The simulator (internal/sim) writes the same report and charts from virtual time; these
// are the parts it shares.

// SourceSimulation is ReportConfig.Source of a simulated run: there is no HTTP-only
// baseline run beside it, so the charts leave the baseline's stalls out.
const SourceSimulation = "simulation"

// WriteReport writes rep's SVG charts into outDir and the JSON report, which lists them,
// to jsonPath.
func WriteReport(rep *Report, outDir, jsonPath string) error {
	return writeReport(rep, Config{OutDir: outDir, JSONPath: jsonPath})
}

// MergeHistograms adds up histograms with the same bounds.
func MergeHistograms(hs []status.Histogram) status.Histogram { return mergeHistograms(hs) }

// SubtractHistogram is what a cumulative histogram gained from before to after.
func SubtractHistogram(after, before status.Histogram) status.Histogram {
	return subtractHistogram(after, before)
}

// PercentilesOf describes a propagation histogram.
func PercentilesOf(h status.Histogram) Percentiles { return percentiles(h) }

// MidSample is the index of the first sample of the second half of the run.
func MidSample(samples []Sample) int { return midSample(samples) }

// SecondHalfMultiple is the rate of a cumulative byte counter over the second half of
// the samples, as a multiple of the bitrate (bits/s).
func SecondHalfMultiple(samples []Sample, counter func(Sample) int64, bitrateBps float64) float64 {
	return secondHalfMultiple(samples, counter, bitrateBps)
}

// SecondHalfShare is the part of the viewers' bytes over the second half of the samples
// that came from other viewers.
func SecondHalfShare(samples []Sample) float64 { return secondHalfShare(samples) }

// SecondHalfMean is the mean of a per-sample figure over the second half of the run.
func SecondHalfMean(samples []Sample, figure func(Sample) float64) float64 {
	return secondHalfMean(samples, figure)
}

// Multiple is a byte rate as a multiple of a bitrate in bits/s.
func Multiple(bytesPerSec, bitrateBps float64) float64 { return multiple(bytesPerSec, bitrateBps) }

// ProcessCPU is the CPU time the process has used so far (false where not measured).
func ProcessCPU() (time.Duration, bool) { return processCPU() }

// HeapBytes is the memory held by live and not yet collected heap objects.
func HeapBytes() float64 { return heapBytes() }
