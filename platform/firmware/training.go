package firmware

import (
	"fmt"
	"math/rand/v2"

	"github.com/bmcemu/bmcemu/platform/spd"
)

// LaneResult is the outcome of delay training on one byte lane.
type LaneResult struct {
	Lane int `json:"lane"`
	// WriteLevelingPS is the DQS delay that aligns the strobe to the clock
	// at the DRAM (fly-by flight time compensation).
	WriteLevelingPS int `json:"write_leveling_ps"`
	// ReadDQSTaps is the receive-enable / DQS delay line setting.
	ReadDQSTaps int `json:"read_dqs_taps"`
	// DQDeskewTaps are the per-bit deskew settings of the lane's 8 DQ bits.
	DQDeskewTaps [8]int `json:"dq_deskew_taps"`
	// EyeWidthPS is the data eye width left after deskew; 0 means no
	// passing delay was found.
	EyeWidthPS int  `json:"eye_width_ps"`
	Pass       bool `json:"pass"`
}

// TrainingResult is what memory training found for one module.
type TrainingResult struct {
	SpeedMTs int          `json:"speed_mts"`
	UIPS     int          `json:"ui_ps"` // unit interval at SpeedMTs
	Lanes    []LaneResult `json:"lanes"`
	// Vref sweep: passing window of VrefDQ (percent of VDDQ) and the
	// chosen centre.
	VrefLowPercent  float64 `json:"vref_low_percent"`
	VrefHighPercent float64 `json:"vref_high_percent"`
	VrefPercent     float64 `json:"vref_percent"`
	EyeHeightMV     int     `json:"eye_height_mv"`
	Pass            bool    `json:"pass"`
	// Stage is where training failed ("dq-dqs" or "vref"); FailedLane the
	// lane for "dq-dqs".
	Stage      string `json:"stage,omitempty"`
	FailedLane int    `json:"failed_lane"`
	Reason     string `json:"reason,omitempty"`
}

// MinEyePS is the narrowest passing eye.
func (t TrainingResult) MinEyePS() int {
	m := 0
	for i, l := range t.Lanes {
		if i == 0 || l.EyeWidthPS < m {
			m = l.EyeWidthPS
		}
	}
	return m
}

// train runs delay training and the Vref sweep for a module at speed. The
// random stream makes the per-lane numbers vary by module yet repeat under
// the same seed; failLane >= 0 forces a lane to find no eye, failVref an
// empty Vref window.
func train(mod spd.Module, position, speed int, r *rand.Rand, failLane bool, failVref bool) TrainingResult {
	if speed <= 0 {
		speed = mod.SpeedMTs
	}
	ui := 1_000_000 / speed // ps per transfer
	lanes := (mod.BusWidthBits + 7) / 8
	res := TrainingResult{SpeedMTs: speed, UIPS: ui, Pass: true, FailedLane: -1}
	bad := -1
	if failLane {
		bad = r.IntN(max(lanes, 1))
	}
	vddq := 1100
	if mod.VoltageMV > 0 {
		vddq = mod.VoltageMV
	}
	for i := 0; i < lanes; i++ {
		// Fly-by topology: later lanes are farther along the clock route;
		// the slot farther from the controller adds trace length.
		l := LaneResult{Lane: i, WriteLevelingPS: 120 + 45*i + 60*(position-1) + r.IntN(25),
			ReadDQSTaps: 16 + 3*i + r.IntN(6)}
		for b := range l.DQDeskewTaps {
			l.DQDeskewTaps[b] = r.IntN(12)
		}
		l.EyeWidthPS = ui*55/100 + r.IntN(max(ui/10, 1)) // 55-65% of UI after deskew
		if i == bad {
			l.EyeWidthPS = 0
		}
		l.Pass = l.EyeWidthPS >= ui/4
		if !l.Pass && res.Pass {
			res.Pass, res.Stage, res.FailedLane = false, "dq-dqs", i
			res.Reason = fmt.Sprintf("no passing DQS/DQ delay on byte lane %d (eye %d ps, need %d ps)", i, l.EyeWidthPS, ui/4)
		}
		res.Lanes = append(res.Lanes, l)
	}
	if !res.Pass {
		return res
	}
	// VrefDQ sweep in 0.5% steps over 45..95% of VDDQ.
	lo := 62.0 + float64(r.IntN(8))*0.5
	hi := lo + 14 + float64(r.IntN(8))*0.5
	if failVref {
		res.Pass, res.Stage = false, "vref"
		res.Reason = "VrefDQ sweep 45.0%-95.0% found no passing window on any rank"
		return res
	}
	res.VrefLowPercent, res.VrefHighPercent = lo, hi
	res.VrefPercent = (lo + hi) / 2
	res.EyeHeightMV = int((hi - lo) / 100 * float64(vddq))
	return res
}
