package bench

import (
	"cmp"
	"math"
	"math/rand/v2"
	"slices"
	"time"
)

// slot is one viewer's place in the run: when it joins and leaves, its caps, its routes.
// The baseline client with the same ID mirrors it (same times, same download cap, same cut
// route), so both sides face the same audience.
type slot struct {
	ID           int
	Join         time.Duration // since the start of the run
	Leave        time.Duration // 0: stays to the end
	UploadRate   int           // bytes/s, 0 = no cap
	DownloadRate int           // bytes/s, 0 = no cap
	Cut          bool          // cannot reach the seeder or the origin
}

// Upload caps as multiples of the bitrate.
const (
	weakUpload     = 0.05 // the residential profile's "near zero" uplinks
	weakShare      = 0.1  // ... one viewer in ten
	slowUpload     = 0.25 // scenario slow
	downloadFactor = 10   // every viewer's download cap
	flashWindow    = 10 * time.Second
	steadyShare    = 0.3 // scenario steady: joins over this share of the run
	churnJoinDelay = 2 * time.Second
)

// plan draws the run's slots from the seeded source: the same Config gives the same slots.
func plan(cfg Config, bitrateBps float64) []slot {
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x6c697665))
	slots := make([]slot, cfg.Viewers)
	for i := range slots {
		slots[i].ID = i
	}
	switch cfg.Scenario {
	case ScenarioSteady:
		// Evenly spaced: a steady audience build-up, with no burst.
		span := time.Duration(steadyShare * float64(cfg.Duration))
		for i := range slots {
			slots[i].Join = span * time.Duration(i) / time.Duration(cfg.Viewers)
		}
	default:
		flashJoins(slots, min(flashWindow, cfg.Duration/2), rng)
	}
	switch cfg.Scenario {
	case ScenarioChurn:
		slots = addChurn(slots, cfg, rng)
	case ScenarioRouteCut:
		cutRoutes(slots, cfg.CutShare, rng)
	}
	drawCaps(slots, cfg, bitrateBps, rng)
	return slots
}

// flashJoins spreads joins at random over window; IDs follow join order, so the first IDs
// are the first viewers in the swarm.
func flashJoins(slots []slot, window time.Duration, rng *rand.Rand) {
	joins := make([]time.Duration, len(slots))
	for i := range joins {
		joins[i] = time.Duration(rng.Int64N(int64(window) + 1))
	}
	slices.Sort(joins)
	for i := range slots {
		slots[i].Join = joins[i]
	}
}

// churnPeriod is a minute, or a third of a shorter run so that churn happens twice.
func churnPeriod(d time.Duration) time.Duration { return min(time.Minute, d/3) }

// addChurn makes, every churn period, a share of the viewers present leave and as many new
// viewers join (within a couple of seconds, as a real audience does).
func addChurn(slots []slot, cfg Config, rng *rand.Rand) []slot {
	if cfg.Churn <= 0 {
		return slots
	}
	period := churnPeriod(cfg.Duration)
	for at := period; at < cfg.Duration; at += period {
		var present []int
		for i, s := range slots {
			if s.Join <= at && s.Leave == 0 {
				present = append(present, i)
			}
		}
		k := min(max(1, int(math.Round(cfg.Churn*float64(cfg.Viewers)))), len(present)-1)
		for _, p := range rng.Perm(len(present))[:max(k, 0)] {
			slots[present[p]].Leave = at
		}
		for range max(k, 0) {
			slots = append(slots, slot{ID: len(slots), Join: at + time.Duration(rng.Int64N(int64(churnJoinDelay)))})
		}
	}
	return slots
}

// cutRoutes picks the viewers whose routes to the seeder and the origin are cut. The first
// two to join always have routes, so a cut viewer has someone to play from.
func cutRoutes(slots []slot, share float64, rng *rand.Rand) {
	if len(slots) < 3 {
		return
	}
	k := min(int(math.Round(share*float64(len(slots)))), len(slots)-2)
	for _, p := range rng.Perm(len(slots) - 2)[:max(k, 0)] {
		slots[2+p].Cut = true
	}
}

// drawCaps gives every slot its upload and download caps.
func drawCaps(slots []slot, cfg Config, bitrateBps float64, rng *rand.Rand) {
	byteRate := bitrateBps / 8
	caps := func(x float64) int { return max(1, int(x*byteRate)) }
	// Exactly one in ten (rounded) residential viewers has a near-zero uplink, so that runs of
	// the same size are comparable; which ones is drawn.
	weak := make([]bool, len(slots))
	for _, p := range rng.Perm(len(slots))[:int(math.Round(weakShare*float64(len(slots))))] {
		weak[p] = true
	}
	for i := range slots {
		s := &slots[i]
		s.DownloadRate = caps(downloadFactor)
		switch {
		case cfg.Scenario == ScenarioSlow:
			s.UploadRate = caps(slowUpload)
		case cfg.Profile == ProfileUniform:
			s.UploadRate = cfg.LeecherUpload.bytesPerSec(bitrateBps)
		case weak[i]:
			s.UploadRate = caps(weakUpload)
		default:
			s.UploadRate = caps(1 + 2*rng.Float64())
		}
	}
}

// event is a join or a leave at a point of the run.
type event struct {
	At    time.Duration
	Slot  int
	Leave bool
}

// events lists the slots' joins and leaves in time order (a leave before a join at the same
// moment, so the audience never exceeds its size).
func events(slots []slot) []event {
	var evs []event
	for i, s := range slots {
		evs = append(evs, event{At: s.Join, Slot: i})
		if s.Leave > 0 {
			evs = append(evs, event{At: s.Leave, Slot: i, Leave: true})
		}
	}
	slices.SortStableFunc(evs, func(a, b event) int {
		if a.At != b.At {
			return cmp.Compare(a.At, b.At)
		}
		if a.Leave != b.Leave {
			if a.Leave {
				return -1
			}
			return 1
		}
		return a.Slot - b.Slot
	})
	return evs
}
