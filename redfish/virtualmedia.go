package redfish

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	pathpkg "path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/bmcemu/bmcemu/platform"
)

// Virtual media (DSP0268 VirtualMedia v1_6_5) under the Manager: a CD/DVD
// drive and a USB stick the BMC presents to the host. #VirtualMedia.
// InsertMedia fetches the image from its URL into the BMC (TransferMethod
// Upload: the BMC holds it, so the host boots it whatever the network does
// later), checks its size, sums it (SHA-256) and hands the platform what
// the host's firmware reads of it; #VirtualMedia.EjectMedia empties the
// device. As for event destinations (EventDestinationAllow), the BMC only
// reaches networks it is allowed to: loopback unless configured, so the
// emulator is no tool for reaching into other networks.

const (
	typeVirtualMedia           = "#VirtualMedia.v1_6_5.VirtualMedia"
	typeVirtualMediaCollection = "#VirtualMediaCollection.VirtualMediaCollection"

	// defaultMaxImageBytes bounds an image the BMC takes in.
	defaultMaxImageBytes = 64 << 20
	// imageFetchTimeout bounds one fetch.
	imageFetchTimeout = 60 * time.Second
)

func virtualMediaPath() string           { return managerPath() + "/VirtualMedia" }
func virtualMediumPath(id string) string { return virtualMediaPath() + "/" + id }

// mediaDevices maps the Redfish ids to the platform's devices.
var mediaDevices = []struct {
	id, device, name string
	types            []string
}{
	{"CD", platform.MediaCD, "Virtual CD/DVD", []string{"CD", "DVD"}},
	{"USB", platform.MediaUSB, "Virtual USB Stick", []string{"USBStick"}},
}

type mediaPlatform interface {
	InsertMedia(device string, img platform.MediaImage) error
	EjectMedia(device string) error
}

// mediaConfig is how the BMC fetches images.
type mediaConfig struct {
	allow    []netip.Prefix
	maxBytes int64
	client   *http.Client
	lookup   func(host string) ([]net.IP, error)
}

func newMediaConfig(cfg Config) mediaConfig {
	m := mediaConfig{allow: cfg.ImageSourceAllow, maxBytes: cfg.MaxImageBytes, client: cfg.ImageHTTPClient, lookup: net.LookupIP}
	if m.allow == nil {
		m.allow = cfg.EventDestinationAllow
	}
	if m.allow == nil {
		m.allow = defaultDestinationAllow
	}
	if m.maxBytes <= 0 {
		m.maxBytes = defaultMaxImageBytes
	}
	if m.client == nil {
		// No redirects: one could lead outside the allowed networks.
		m.client = &http.Client{Timeout: imageFetchTimeout, CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		}}
	}
	return m
}

type mediaActions struct {
	Insert struct {
		Target           string   `json:"target"`
		ProtocolsAllowed []string `json:"TransferProtocolType@Redfish.AllowableValues"`
		MethodsAllowed   []string `json:"TransferMethod@Redfish.AllowableValues"`
	} `json:"#VirtualMedia.InsertMedia"`
	Eject actionTarget `json:"#VirtualMedia.EjectMedia"`
}

type mediaOem struct {
	Bmcemu struct {
		ImageSizeBytes int64               `json:"ImageSizeBytes"`
		ImageSHA256    string              `json:"ImageSHA256"`
		BootRecord     platform.BootRecord `json:"BootRecord"`
	} `json:"Bmcemu"`
}

type virtualMediaResource struct {
	odata
	ID                   string       `json:"Id"`
	Name                 string       `json:"Name"`
	MediaTypes           []string     `json:"MediaTypes"`
	ConnectedVia         string       `json:"ConnectedVia"`
	Image                *string      `json:"Image"`
	ImageName            *string      `json:"ImageName"`
	Inserted             bool         `json:"Inserted"`
	WriteProtected       bool         `json:"WriteProtected"`
	TransferMethod       *string      `json:"TransferMethod"`
	TransferProtocolType *string      `json:"TransferProtocolType"`
	UserName             *string      `json:"UserName"`
	Status               status       `json:"Status"`
	Actions              mediaActions `json:"Actions"`
	Oem                  *mediaOem    `json:"Oem,omitempty"`
}

func lookupMedia(r *request) (string, int, error) {
	if id := r.param("manager"); id != managerID {
		return "", 0, errResourceNotFound("Manager", id)
	}
	id := r.param("media")
	for i, d := range mediaDevices {
		if d.id == id {
			return d.device, i, nil
		}
	}
	return "", 0, errResourceNotFound("VirtualMedia", id)
}

func (s *service) getVirtualMediaCollection(r *request) (any, error) {
	if id := r.param("manager"); id != managerID {
		return nil, errResourceNotFound("Manager", id)
	}
	var members []link
	for _, d := range mediaDevices {
		members = append(members, link{ID: virtualMediumPath(d.id)})
	}
	return newCollection(virtualMediaPath(), typeVirtualMediaCollection, "Virtual Media Collection", members), nil
}

func (s *service) getVirtualMedia(r *request) (any, error) {
	device, i, err := lookupMedia(r)
	if err != nil {
		return nil, err
	}
	d := mediaDevices[i]
	res := virtualMediaResource{odata: odata{ID: virtualMediumPath(d.id), Type: typeVirtualMedia}, ID: d.id, Name: d.name,
		MediaTypes: d.types, ConnectedVia: "NotConnected", WriteProtected: true, Status: statusOK()}
	res.Actions.Insert.Target = virtualMediumPath(d.id) + "/Actions/VirtualMedia.InsertMedia"
	res.Actions.Insert.ProtocolsAllowed = []string{"HTTP", "HTTPS"}
	res.Actions.Insert.MethodsAllowed = []string{"Upload"}
	res.Actions.Eject.Target = virtualMediumPath(d.id) + "/Actions/VirtualMedia.EjectMedia"
	for _, m := range r.snap.VirtualMedia {
		if m.ID != device || m.Image == nil {
			continue
		}
		img := m.Image
		res.ConnectedVia, res.Inserted, res.WriteProtected = "URI", true, img.WriteProtected
		res.Image, res.ImageName = &img.URL, &img.Name
		res.TransferMethod, res.TransferProtocolType = &img.TransferMethod, &img.TransferProtocol
		if img.UserName != "" {
			res.UserName = &img.UserName
		}
		res.Oem = &mediaOem{}
		res.Oem.Bmcemu.ImageSizeBytes, res.Oem.Bmcemu.ImageSHA256, res.Oem.Bmcemu.BootRecord = img.Size, img.SHA256, img.Boot
	}
	return res, nil
}

type insertMediaBody struct {
	Image                string  `json:"Image" validate:"required,max=2048"`
	Inserted             *bool   `json:"Inserted"`
	WriteProtected       *bool   `json:"WriteProtected"`
	TransferProtocolType *string `json:"TransferProtocolType" validate:"omitempty,oneof=HTTP HTTPS CIFS FTP SFTP TFTP SCP NFS OEM"`
	TransferMethod       *string `json:"TransferMethod" validate:"omitempty,oneof=Stream Upload"`
	UserName             *string `json:"UserName" validate:"omitempty,max=256"`
	Password             *string `json:"Password" validate:"omitempty,max=256"`
}

const insertAction = "#VirtualMedia.InsertMedia"

func (s *service) postInsertMedia(r *request) (*response, error) {
	device, i, err := lookupMedia(r)
	if err != nil {
		return nil, err
	}
	mp, ok := s.platform.(mediaPlatform)
	if !ok {
		return nil, newAPIError(http.StatusBadRequest, "ActionNotSupported", insertAction)
	}
	var in insertMediaBody
	d, err := decodeAction(r.body, &in, insertAction)
	if err != nil {
		return nil, err
	}
	if len(d.problems) > 0 {
		return nil, failAll(d.problems)
	}
	if in.Inserted != nil && !*in.Inserted {
		// An image handed over but not inserted would be a second state
		// this BMC does not keep.
		return nil, newAPIError(http.StatusBadRequest, "ActionParameterNotSupported", "Inserted", insertAction)
	}
	wp := in.WriteProtected == nil || *in.WriteProtected
	if !wp && mediaDevices[i].device == platform.MediaCD {
		return nil, newAPIError(http.StatusBadRequest, "ActionParameterValueConflict", "WriteProtected", "false")
	}
	for _, m := range r.snap.VirtualMedia {
		if m.ID == device && m.Image != nil {
			e := newAPIError(http.StatusConflict, "ResourceInUse")
			e.detail = fmt.Sprintf("The virtual %s holds %s: eject it first.", mediaDevices[i].id, m.Image.URL)
			return nil, e
		}
	}
	u, proto, err := s.checkImageURL(in.Image, in.TransferProtocolType)
	if err != nil {
		return nil, err
	}
	user, pass := "", ""
	if in.UserName != nil {
		user = *in.UserName
	}
	if in.Password != nil {
		pass = *in.Password
	}
	data, err := s.fetchImage(r.c.Request.Context(), u, user, pass)
	if err != nil {
		return nil, err
	}
	rec, sum := platform.InspectImage(data)
	img := platform.MediaImage{URL: in.Image, Name: pathpkg.Base(u.Path), Size: int64(len(data)), SHA256: sum, WriteProtected: wp,
		TransferProtocol: proto, TransferMethod: "Upload", UserName: user, Boot: rec}
	if err := mp.InsertMedia(device, img); err != nil {
		if errors.Is(err, platform.ErrMediaPresent) {
			e := newAPIError(http.StatusConflict, "ResourceInUse")
			e.detail = fmt.Sprintf("The virtual %s already holds an image: eject it first.", mediaDevices[i].id)
			return nil, e
		}
		return nil, fmt.Errorf("insert media: %w", err)
	}
	return &response{status: http.StatusNoContent}, nil
}

func (s *service) postEjectMedia(r *request) (*response, error) {
	device, _, err := lookupMedia(r)
	if err != nil {
		return nil, err
	}
	mp, ok := s.platform.(mediaPlatform)
	if !ok {
		return nil, newAPIError(http.StatusBadRequest, "ActionNotSupported", "#VirtualMedia.EjectMedia")
	}
	var in struct{}
	d, err := decodeAction(r.body, &in, "#VirtualMedia.EjectMedia")
	if err != nil {
		return nil, err
	}
	if len(d.problems) > 0 {
		return nil, failAll(d.problems)
	}
	if err := mp.EjectMedia(device); err != nil {
		return nil, fmt.Errorf("eject media: %w", err)
	}
	return &response{status: http.StatusNoContent}, nil
}

// checkImageURL parses the image URL, checks the protocol against the
// TransferProtocolType the client named (HTTP and HTTPS are what this BMC
// fetches), and refuses a host outside the networks the BMC may reach.
func (s *service) checkImageURL(raw string, wantProto *string) (*url.URL, string, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Scheme == "" {
		return nil, "", newAPIError(http.StatusBadRequest, "ActionParameterValueFormatError", raw, "Image", insertAction)
	}
	proto := strings.ToUpper(u.Scheme)
	if proto != "HTTP" && proto != "HTTPS" {
		return nil, "", newAPIError(http.StatusBadRequest, "SourceDoesNotSupportProtocol", raw, proto)
	}
	if wantProto != nil && *wantProto != proto {
		e := newAPIError(http.StatusBadRequest, "ActionParameterValueConflict", "TransferProtocolType", *wantProto)
		e.detail = fmt.Sprintf("TransferProtocolType %s does not match the image URL's scheme (%s).", *wantProto, u.Scheme)
		return nil, "", e
	}
	if err := s.allowedSource(u); err != nil {
		return nil, "", err
	}
	return u, proto, nil
}

// allowedSource refuses a URL whose host is, or resolves to, an address
// outside the allowed networks; a host that does not resolve cannot be
// reached.
func (s *service) allowedSource(u *url.URL) error {
	host := u.Hostname()
	var addrs []netip.Addr
	if a, err := netip.ParseAddr(host); err == nil {
		addrs = []netip.Addr{a}
	} else {
		ips, err := s.media.lookup(host)
		if err != nil || len(ips) == 0 {
			return newAPIError(http.StatusBadRequest, "CouldNotEstablishConnection", u.String())
		}
		for _, ip := range ips {
			if a, ok := netip.AddrFromSlice(ip); ok {
				addrs = append(addrs, a)
			}
		}
	}
	for _, a := range addrs {
		a = a.Unmap()
		if !slices.ContainsFunc(s.media.allow, func(p netip.Prefix) bool { return p.Contains(a) }) {
			nets := make([]string, len(s.media.allow))
			for i, p := range s.media.allow {
				nets[i] = p.String()
			}
			e := newAPIError(http.StatusBadRequest, "ActionParameterValueConflict", "Image", u.String())
			e.detail = fmt.Sprintf("%s is outside the networks the BMC fetches images from (%s).", host, strings.Join(nets, ", "))
			return e
		}
	}
	return nil
}

// fetchImage downloads the image, refusing one over the size limit before
// holding more of it than the limit.
func (s *service) fetchImage(ctx context.Context, u *url.URL, user, pass string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, imageFetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, newAPIError(http.StatusBadRequest, "ActionParameterValueFormatError", u.String(), "Image", insertAction)
	}
	if user != "" || pass != "" {
		req.SetBasicAuth(user, pass)
	}
	resp, err := s.media.client.Do(req)
	if err != nil {
		return nil, newAPIError(http.StatusBadRequest, "CouldNotEstablishConnection", u.String())
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return nil, newAPIError(http.StatusBadRequest, "ResourceAtUriUnauthorized", u.String(), strconv.Itoa(resp.StatusCode))
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone:
		return nil, newAPIError(http.StatusBadRequest, "ResourceMissingAtURI", u.String())
	case resp.StatusCode != http.StatusOK:
		e := newAPIError(http.StatusBadRequest, "CouldNotEstablishConnection", u.String())
		e.detail = fmt.Sprintf("The image server answered %s.", resp.Status)
		return nil, e
	}
	tooLarge := func() error {
		e := newAPIError(http.StatusInsufficientStorage, "InsufficientStorage")
		e.detail = fmt.Sprintf("The image at %s is larger than the %d bytes this BMC holds.", u, s.media.maxBytes)
		return e
	}
	if resp.ContentLength > s.media.maxBytes {
		return nil, tooLarge()
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, s.media.maxBytes+1))
	if err != nil {
		return nil, newAPIError(http.StatusBadRequest, "CouldNotEstablishConnection", u.String())
	}
	if int64(len(data)) > s.media.maxBytes {
		return nil, tooLarge()
	}
	return data, nil
}
