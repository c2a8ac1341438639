package redfish

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"

	playvalidator "github.com/go-playground/validator/v10"
)

// Request bodies are decoded in two passes so every problem is named the
// way DSP0266 and the Base registry want: first the JSON object itself
// (MalformedJSON), then each property on its own (PropertyUnknown,
// PropertyNotWritable, PropertyValueTypeError), then the values against the
// struct's `validate` tags (PropertyValueNotInList, PropertyValueOutOfRange,
// PropertyValueFormatError, PropertyMissing).

var (
	bodyValidatorOnce sync.Once
	bodyValidatorInst *playvalidator.Validate
)

func bodyValidator() *playvalidator.Validate {
	bodyValidatorOnce.Do(func() {
		v := playvalidator.New(playvalidator.WithRequiredStructEnabled())
		v.RegisterTagNameFunc(func(f reflect.StructField) string {
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "-" {
				return ""
			}
			return name
		})
		bodyValidatorInst = v
	})
	return bodyValidatorInst
}

// decoded is the outcome of decodeBody.
type decoded struct {
	// present lists the properties that were given and are acceptable.
	present map[string]bool
	// problems are the refused properties, one message each.
	problems []*apiError
}

func (d *decoded) has(name string) bool { return d.present[name] }

// decodeBody fills dst (a pointer to a struct whose fields carry json and
// validate tags) from body. readOnly names the resource's properties that
// exist but cannot be written. It fails outright only for a body that is
// not a JSON object; per-property problems come back in decoded.problems.
func decodeBody(body []byte, dst any, readOnly []string) (*decoded, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, newAPIError(http.StatusBadRequest, "MalformedJSON")
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil || raw == nil {
		return nil, newAPIError(http.StatusBadRequest, "MalformedJSON")
	}
	rv := reflect.ValueOf(dst).Elem()
	rt := rv.Type()
	fields := map[string]int{}
	for i := range rt.NumField() {
		name, _, _ := strings.Cut(rt.Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" {
			fields[name] = i
		}
	}
	d := &decoded{present: map[string]bool{}}
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := raw[k]
		if strings.HasPrefix(k, "@odata.") {
			// Identity annotations a client echoes back carry no change.
			continue
		}
		i, ok := fields[k]
		switch {
		case !ok && slices.Contains(readOnly, k):
			d.problems = append(d.problems, propErr(http.StatusBadRequest, "PropertyNotWritable", k, k))
			continue
		case !ok:
			d.problems = append(d.problems, propErr(http.StatusBadRequest, "PropertyUnknown", k, k))
			continue
		}
		f := rv.Field(i)
		if bytes.Equal(bytes.TrimSpace(v), []byte("null")) {
			d.problems = append(d.problems, propErr(http.StatusBadRequest, "PropertyValueTypeError", k, "null", k))
			continue
		}
		if err := json.Unmarshal(v, f.Addr().Interface()); err != nil {
			f.Set(reflect.Zero(f.Type()))
			d.problems = append(d.problems, propErr(http.StatusBadRequest, "PropertyValueTypeError", k, shortJSON(v), k))
			continue
		}
		d.present[k] = true
	}
	if err := bodyValidator().Struct(dst); err != nil {
		var verrs playvalidator.ValidationErrors
		if !errors.As(err, &verrs) {
			return nil, fmt.Errorf("validate %T: %w", dst, err)
		}
		for _, fe := range verrs {
			name := fe.Field()
			if fe.Tag() == "required" && d.present[name] {
				// Given, but empty.
				delete(d.present, name)
				d.problems = append(d.problems, propErr(http.StatusBadRequest, "PropertyValueFormatError", name, "", name))
				continue
			}
			if fe.Tag() == "required" {
				if !d.hasProblem(name) {
					d.problems = append(d.problems, propErr(http.StatusBadRequest, "PropertyMissing", name, name))
				}
				continue
			}
			delete(d.present, name)
			val := fmt.Sprint(reflect.Indirect(reflect.ValueOf(fe.Value())))
			if i, ok := fields[name]; ok {
				// Refused: leave it as if never sent, so a handler that
				// tests the field rather than d.has cannot apply it.
				rv.Field(i).Set(reflect.Zero(rv.Field(i).Type()))
			}
			switch fe.Tag() {
			case "oneof":
				d.problems = append(d.problems, propErr(http.StatusBadRequest, "PropertyValueNotInList", name, val, name))
			case "min", "max", "gte", "lte":
				d.problems = append(d.problems, propErr(http.StatusBadRequest, "PropertyValueOutOfRange", name, val, name))
			default:
				d.problems = append(d.problems, propErr(http.StatusBadRequest, "PropertyValueFormatError", name, val, name))
			}
		}
	}
	return d, nil
}

func (d *decoded) hasProblem(name string) bool {
	for _, p := range d.problems {
		if slices.Contains(p.related, "#/"+name) {
			return true
		}
	}
	return false
}

// shortJSON quotes a client value in a message without letting a huge one
// through.
func shortJSON(v json.RawMessage) string {
	s := string(bytes.TrimSpace(v))
	if len(s) > 64 {
		s = s[:64] + "..."
	}
	return strings.Trim(s, `"`)
}

// failAll combines refused properties into one error response.
func failAll(problems []*apiError) error {
	if len(problems) == 0 {
		return newAPIError(http.StatusBadRequest, "NoOperation")
	}
	e := *problems[0]
	e.more = problems[1:]
	return &e
}

// jsonNames lists the JSON property names of a response struct, embedded
// structs included; they are what a PATCH may name without being unknown.
func jsonNames(v any) []string {
	var out []string
	var walk func(t reflect.Type)
	walk = func(t reflect.Type) {
		for i := range t.NumField() {
			f := t.Field(i)
			if f.Anonymous {
				walk(f.Type)
				continue
			}
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name != "" && name != "-" {
				out = append(out, name)
			}
		}
	}
	walk(reflect.TypeOf(v))
	return out
}

// withMessages adds @Message.ExtendedInfo to a resource, reporting the
// properties a partially successful request did not apply (DSP0266 clause
// 9.5.4).
func withMessages(v any, problems []*apiError) (any, error) {
	if len(problems) == 0 {
		return v, nil
	}
	b, err := encodeJSON(v)
	if err != nil {
		return nil, err
	}
	m, err := decodeTree(b)
	if err != nil {
		return nil, err
	}
	var msgs []message
	for _, p := range problems {
		msgs = append(msgs, p.messages()...)
	}
	m["@Message.ExtendedInfo"] = msgs
	return m, nil
}
