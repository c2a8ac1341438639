package redfish

import (
	"net/http"
	"os"
	"path/filepath"

	"github.com/gin-gonic/gin"
)

const (
	pathRegistries       = "/redfish/v1/Registries"
	typeRegistryFileColl = "#MessageRegistryFileCollection.MessageRegistryFileCollection"
	typeRegistryFile     = "#MessageRegistryFile.v1_1_5.MessageRegistryFile"
	// typeMessageRegistry is the type of the registry documents served;
	// the OEM one is embedded, so TestSchemaCrawl holds it to this.
	typeMessageRegistry = "#MessageRegistry.v1_7_0.MessageRegistry"
	dmtfRegistryURL     = "https://redfish.dmtf.org/registries/"
)

// servedRegistries are the registries messages come from: Base for
// errors, the event registries, and the project's own.
var servedRegistries = []string{baseRegistry, resourceEventRegistry, platformRegistry, accountSecurityRegistry, logServiceRegistry, oemRegistry}

// embeddedRegistries are the registries this service defines itself
// (message and attribute registries), served from the binary or, for the
// attribute registry, made from the platform's definitions.
var embeddedRegistries = map[string]func(*service) []byte{oemRegistry: func(*service) []byte { return oemRegistryJSON }}

func registryPrefixOf(id string) string {
	for i := range id {
		if id[i] == '.' {
			return id[:i]
		}
	}
	return id
}

func (s *service) getRegistries(*request) (any, error) {
	var members []link
	for _, id := range servedRegistries {
		members = append(members, link{ID: pathRegistries + "/" + registryPrefixOf(id)})
	}
	return newCollection(pathRegistries, typeRegistryFileColl, "Message Registry File Collection", members), nil
}

type registryLocation struct {
	Language       string `json:"Language"`
	URI            string `json:"Uri,omitempty"`
	PublicationURI string `json:"PublicationUri,omitempty"`
}

type messageRegistryFile struct {
	odata
	ID        string             `json:"Id"`
	Name      string             `json:"Name"`
	Languages []string           `json:"Languages"`
	Registry  string             `json:"Registry"`
	Location  []registryLocation `json:"Location"`
}

// registryFilePath is where a registry's JSON is, "" if not here. The
// OEM one is embedded; DMTF's are read from Config.RegistryDir when
// present there, never copied into the repository.
func (s *service) registryFilePath(id string) string {
	if _, ok := embeddedRegistries[id]; ok {
		return "embedded"
	}
	if s.registryDir == "" {
		return ""
	}
	p := filepath.Join(s.registryDir, id+".json")
	if _, err := os.Stat(p); err != nil {
		return ""
	}
	return p
}

func (s *service) lookupRegistry(r *request) (string, error) {
	want := r.param("registry")
	for _, id := range servedRegistries {
		if registryPrefixOf(id) == want {
			return id, nil
		}
	}
	return "", errResourceNotFound("MessageRegistryFile", want)
}

func (s *service) getRegistry(r *request) (any, error) {
	id, err := s.lookupRegistry(r)
	if err != nil {
		return nil, err
	}
	prefix := registryPrefixOf(id)
	loc := registryLocation{Language: "en"}
	if s.registryFilePath(id) != "" {
		loc.URI = pathRegistries + "/" + prefix + "/" + id
	}
	if _, own := embeddedRegistries[id]; !own {
		loc.PublicationURI = dmtfRegistryURL + id + ".json"
	}
	return messageRegistryFile{
		odata:     odata{ID: pathRegistries + "/" + prefix, Type: typeRegistryFile},
		ID:        prefix,
		Name:      prefix + " Message Registry File",
		Languages: []string{"en"},
		Registry:  id,
		Location:  []registryLocation{loc},
	}, nil
}

// serveRegistryJSON serves the registry document itself.
func (s *service) serveRegistryJSON(c *gin.Context) {
	want := c.Param("registry")
	for _, id := range servedRegistries {
		if registryPrefixOf(id) != want || c.Param("file") != id {
			continue
		}
		p := s.registryFilePath(id)
		var body []byte
		switch p {
		case "":
		case "embedded":
			body = embeddedRegistries[id](s)
		default:
			b, err := os.ReadFile(p)
			if err != nil {
				s.fail(c, err)
				return
			}
			body = b
		}
		if body != nil {
			s.write(c, http.StatusOK, "application/json; charset=utf-8", body)
			return
		}
	}
	s.fail(c, errInvalidURI(c.Request.URL.EscapedPath()))
}
