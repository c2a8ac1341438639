// Package fielderr turns go-playground/validator's errors into the
// messages a person reads: "online: must be one of [online offline] (got
// bogus)" rather than "Key: 'CXLInsertRequest.Online' Error:Field
// validation for 'Online' failed on the 'oneof' tag". The profile loader
// (YAML) and the control API (JSON) both name fields as their input does,
// through the tag name the validator was told to use.
package fielderr

import (
	"errors"
	"fmt"
	"reflect"
	"strings"

	"github.com/go-playground/validator/v10"
)

// New returns a validator that names fields by the given struct tag
// ("json", "yaml"), as the input spells them.
func New(tag string) *validator.Validate {
	v := validator.New(validator.WithRequiredStructEnabled())
	v.RegisterTagNameFunc(func(f reflect.StructField) string {
		name, _, _ := strings.Cut(f.Tag.Get(tag), ",")
		if name == "-" {
			return ""
		}
		return name
	})
	return v
}

// First describes the first failure in err, a validator.Struct error:
// field is its dotted path below the root type ("memory.sockets"),
// message what is wrong with it. ok is false for any other error.
func First(err error) (field, message string, ok bool) {
	var ves validator.ValidationErrors
	if !errors.As(err, &ves) || len(ves) == 0 {
		return "", "", false
	}
	fe := ves[0]
	// Namespace is "Type.field.sub": drop the root type's name (an
	// anonymous struct has none).
	field = fe.Namespace()
	if _, rest, ok := strings.Cut(field, "."); ok {
		field = rest
	}
	return field, Describe(fe), true
}

// Describe says what one failed rule wants, with the value given.
func Describe(fe validator.FieldError) string {
	switch fe.Tag() {
	case "required":
		switch fe.Kind() {
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
			reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Float32, reflect.Float64:
			// The validator cannot tell 0 from absent.
			return "is required and must not be 0"
		}
		return "is required"
	case "min", "gte", "max", "lte", "gt", "lt":
		bound := map[string]string{"min": "at least", "gte": "at least", "max": "at most", "lte": "at most",
			"gt": "more than", "lt": "less than"}[fe.Tag()]
		switch fe.Kind() {
		case reflect.String:
			// A long value is told by its length: the message must not
			// echo a megabyte back.
			if v := fmt.Sprint(fe.Value()); len(v) > 32 {
				return fmt.Sprintf("must be %s %s characters (got %d)", bound, fe.Param(), len(v))
			}
			return fmt.Sprintf("must be %s %s characters (got %q)", bound, fe.Param(), fe.Value())
		case reflect.Slice, reflect.Array, reflect.Map:
			items := "items"
			if fe.Param() == "1" {
				items = "item"
			}
			return fmt.Sprintf("must have %s %s %s (got %d)", bound, fe.Param(), items, reflect.ValueOf(fe.Value()).Len())
		}
		return fmt.Sprintf("must be %s %s (got %v)", bound, fe.Param(), fe.Value())
	case "oneof":
		return fmt.Sprintf("must be one of [%s] (got %v)", fe.Param(), fe.Value())
	case "printascii":
		return fmt.Sprintf("must be printable ASCII (got %q)", fe.Value())
	}
	return fmt.Sprintf("fails %q (got %v)", fe.Tag(), fe.Value())
}
