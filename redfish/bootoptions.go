package redfish

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/bmcemu/bmcemu/platform"
)

// The host firmware's boot options (UEFI Boot#### variables) and their
// order, DSP0268 BootOption and ComputerSystem Boot.BootOrder: the
// platform's, which the host's boot manager walks when no override
// applies (platform/bootorder.go). BootOrder is written with a PATCH of
// the System, an option's BootOptionEnabled with a PATCH of the option.

const (
	typeBootOption           = "#BootOption.v1_0_6.BootOption"
	typeBootOptionCollection = "#BootOptionCollection.BootOptionCollection"
)

func bootOptionsPath() string                   { return systemPath() + "/BootOptions" }
func bootOptionPath(ref string) string          { return bootOptionsPath() + "/" + ref }
func bootOrderOf(s *platform.Snapshot) []string { return slices.Clone(s.BootOrder) }

type bootOrderSetter interface {
	SetBootOrder(refs []string) error
	SetBootOptionEnabled(ref string, enabled bool) error
}

type bootOptionResource struct {
	odata
	ID                  string `json:"Id"`
	Name                string `json:"Name"`
	DisplayName         string `json:"DisplayName"`
	BootOptionReference string `json:"BootOptionReference"`
	BootOptionEnabled   bool   `json:"BootOptionEnabled"`
	UefiDevicePath      string `json:"UefiDevicePath"`
	Alias               string `json:"Alias,omitempty"`
	RelatedItem         []link `json:"RelatedItem,omitempty"`
}

func (s *service) getBootOptions(r *request) (any, error) {
	if err := lookupSystem(r); err != nil {
		return nil, err
	}
	var members []link
	for _, o := range r.snap.BootOptions {
		members = append(members, link{ID: bootOptionPath(o.Ref)})
	}
	return newCollection(bootOptionsPath(), typeBootOptionCollection, "Boot Option Collection", members), nil
}

func findBootOption(snap *platform.Snapshot, ref string) (platform.BootOption, bool) {
	for _, o := range snap.BootOptions {
		if o.Ref == ref {
			return o, true
		}
	}
	return platform.BootOption{}, false
}

func (s *service) getBootOption(r *request) (any, error) {
	if err := lookupSystem(r); err != nil {
		return nil, err
	}
	o, ok := findBootOption(r.snap, r.param("option"))
	if !ok {
		return nil, errResourceNotFound("BootOption", r.param("option"))
	}
	return bootOptionResource{
		odata:               odata{ID: bootOptionPath(o.Ref), Type: typeBootOption},
		ID:                  o.Ref,
		Name:                "Boot Option " + o.Ref,
		DisplayName:         o.Name,
		BootOptionReference: o.Ref,
		BootOptionEnabled:   o.Enabled,
		UefiDevicePath:      o.Path,
		Alias:               o.Target,
	}, nil
}

type bootOptionPatch struct {
	BootOptionEnabled *bool `json:"BootOptionEnabled"`
}

var bootOptionReadOnly = jsonNames(bootOptionResource{})

func (s *service) patchBootOption(r *request) (*response, error) {
	if err := lookupSystem(r); err != nil {
		return nil, err
	}
	ref := r.param("option")
	if _, ok := findBootOption(r.snap, ref); !ok {
		return nil, errResourceNotFound("BootOption", ref)
	}
	var p bootOptionPatch
	d, err := decodeBody(r.body, &p, slices.DeleteFunc(slices.Clone(bootOptionReadOnly), func(n string) bool { return n == "BootOptionEnabled" }))
	if err != nil {
		return nil, err
	}
	if !d.has("BootOptionEnabled") {
		return nil, failAll(d.problems)
	}
	bs, ok := s.platform.(bootOrderSetter)
	if !ok {
		return nil, failAll(append(d.problems, propErr(http.StatusBadRequest, "PropertyNotWritable", "BootOptionEnabled", "BootOptionEnabled")))
	}
	if err := bs.SetBootOptionEnabled(ref, *p.BootOptionEnabled); err != nil {
		return nil, fmt.Errorf("boot option %s: %w", ref, err)
	}
	return s.afterPatch(r, s.getBootOption, d)
}

// checkBootOrder refuses an order naming an option the system does not
// have, or one twice.
func checkBootOrder(snap *platform.Snapshot, order []string) *apiError {
	seen := map[string]bool{}
	for _, ref := range order {
		if _, ok := findBootOption(snap, ref); !ok {
			return propErr(http.StatusBadRequest, "PropertyValueNotInList", "Boot/BootOrder", ref, "Boot/BootOrder")
		}
		if seen[ref] {
			e := propErr(http.StatusBadRequest, "PropertyValueIncorrect", "Boot/BootOrder", "Boot/BootOrder", strings.Join(order, ","))
			e.detail = ref + " appears twice in BootOrder."
			return e
		}
		seen[ref] = true
	}
	if len(order) == 0 {
		e := propErr(http.StatusBadRequest, "PropertyValueIncorrect", "Boot/BootOrder", "Boot/BootOrder", "[]")
		e.detail = "BootOrder must name at least one boot option."
		return e
	}
	return nil
}

func (s *service) setBootOrder(order []string) error {
	bs, ok := s.platform.(bootOrderSetter)
	if !ok {
		return propErr(http.StatusBadRequest, "PropertyNotWritable", "Boot/BootOrder", "Boot/BootOrder")
	}
	if err := bs.SetBootOrder(order); err != nil {
		if errors.Is(err, platform.ErrBadBootOrder) {
			return propErr(http.StatusBadRequest, "PropertyValueIncorrect", "Boot/BootOrder", "Boot/BootOrder", strings.Join(order, ","))
		}
		return fmt.Errorf("set boot order: %w", err)
	}
	return nil
}
