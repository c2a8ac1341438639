package fielderr

import (
	"errors"
	"strings"
	"testing"
)

type inner struct {
	Mode string `json:"mode" validate:"oneof=a b"`
}

type outer struct {
	Name  string  `json:"name" validate:"required,max=4"`
	Count int     `json:"count" validate:"min=1,max=9"`
	Label string  `json:"label" validate:"omitempty,printascii"`
	Inner inner   `json:"inner"`
	Skip  string  `json:"-" validate:"max=1"`
	Tags  []int   `json:"tags" validate:"max=2"`
	Speed float64 `json:"speed" validate:"omitempty,gt=0"`
}

func TestFirstNamesTheFieldAsTheInputSpellsIt(t *testing.T) {
	v := New("json")
	for _, tc := range []struct {
		in           outer
		field, error string
	}{
		{outer{Count: 1, Inner: inner{Mode: "a"}}, "name", "is required"},
		{outer{Name: "toolong", Count: 1, Inner: inner{Mode: "a"}}, "name", `must be at most 4 characters (got "toolong")`},
		{outer{Name: strings.Repeat("y", 100), Count: 1, Inner: inner{Mode: "a"}}, "name", "must be at most 4 characters (got 100)"},
		{outer{Name: "x", Count: 1, Inner: inner{Mode: "a"}, Tags: []int{1, 2, 3}}, "tags", "must have at most 2 items (got 3)"},
		{outer{Name: "x", Count: 1, Inner: inner{Mode: "a"}, Speed: -1}, "speed", "must be more than 0 (got -1)"},
		{outer{Name: "x", Count: 0, Inner: inner{Mode: "a"}}, "count", "must be at least 1 (got 0)"},
		{outer{Name: "x", Count: 10, Inner: inner{Mode: "a"}}, "count", "must be at most 9 (got 10)"},
		{outer{Name: "x", Count: 1, Label: "é", Inner: inner{Mode: "a"}}, "label", `must be printable ASCII (got "é")`},
		{outer{Name: "x", Count: 1, Inner: inner{Mode: "c"}}, "inner.mode", "must be one of [a b] (got c)"},
	} {
		field, msg, ok := First(v.Struct(tc.in))
		if !ok || field != tc.field || msg != tc.error {
			t.Errorf("%+v: got %q %q %v, want %q %q", tc.in, field, msg, ok, tc.field, tc.error)
		}
	}
	if err := v.Struct(outer{Name: "x", Count: 1, Inner: inner{Mode: "a"}, Skip: "ab"}); err == nil {
		t.Error(`a field tagged json:"-" is not validated`)
	} else if field, _, _ := First(err); field != "Skip" {
		t.Errorf(`json:"-" field named %q, want its Go name`, field)
	}
	if _, _, ok := First(errors.New("other")); ok {
		t.Error("First described an error that is not the validator's")
	}
}

func TestRequiredNumberSaysZeroIsRefused(t *testing.T) {
	var dma struct {
		Size uint64 `json:"size" validate:"required,max=4096"`
	}
	if field, msg, _ := First(New("json").Struct(dma)); field != "size" || msg != "is required and must not be 0" {
		t.Errorf("got %q %q", field, msg)
	}
}
