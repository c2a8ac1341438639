package redfish

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// Query options of DSP0266 clause 7.3 the service implements; the service
// root's ProtocolFeaturesSupported is built from these constants.
const (
	maxExpandLevels = 3
	maxTop          = 1000
)

type query struct {
	only     bool
	sel      [][]string
	expand   byte // 0, '.', '*', '~'
	levels   int
	filter   filterExpr
	filterS  string
	top      int
	skip     int
	hasTop   bool
	hasSkip  bool
	rawQuery string
}

func (q *query) empty() bool {
	return !q.only && q.sel == nil && q.expand == 0 && q.filter == nil && !q.hasTop && !q.hasSkip
}

func badQueryValue(param, value string) error {
	return newAPIError(http.StatusBadRequest, "QueryParameterValueFormatError", value, param)
}

// parseQuery reads the query options. A '$' option the service does not
// implement is refused with 501, as DSP0266 asks; other unknown parameters
// are ignored.
func parseQuery(u *url.URL) (*query, error) {
	q := &query{rawQuery: u.RawQuery}
	vals, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return nil, newAPIError(http.StatusBadRequest, "QueryParameterValueError", u.RawQuery)
	}
	n := 0
	for k, vs := range vals {
		v := vs[0]
		switch k {
		case "only":
			// only is a bare flag: "?only" and "?only=" read alike, but a
			// value is a malformed request rather than something to ignore.
			if v != "" {
				return nil, badQueryValue(k, v)
			}
			q.only = true
		case "$select":
			for p := range strings.SplitSeq(v, ",") {
				p = strings.TrimSpace(p)
				segs := strings.Split(p, "/")
				for _, s := range segs {
					if s == "" || strings.ContainsAny(s, " ()$'") {
						return nil, badQueryValue(k, v)
					}
				}
				q.sel = append(q.sel, segs)
			}
		case "$expand":
			if err := q.parseExpand(v); err != nil {
				return nil, err
			}
		case "$filter":
			f, err := parseFilter(v)
			if err != nil {
				return nil, badQueryValue(k, v)
			}
			q.filter, q.filterS = f, v
		case "$top", "$skip":
			i, err := strconv.Atoi(v)
			if err != nil {
				return nil, newAPIError(http.StatusBadRequest, "QueryParameterValueTypeError", v, k)
			}
			if i < 0 || k == "$top" && i > maxTop {
				return nil, newAPIError(http.StatusBadRequest, "QueryParameterOutOfRange", v, k, "0-"+strconv.Itoa(maxTop))
			}
			if k == "$top" {
				q.top, q.hasTop = i, true
			} else {
				q.skip, q.hasSkip = i, true
			}
		default:
			if strings.HasPrefix(k, "$") {
				return nil, errQueryParameterUnsupported(k)
			}
			continue
		}
		n++
	}
	if q.only && n > 1 {
		return nil, newAPIError(http.StatusBadRequest, "QueryCombinationInvalid")
	}
	return q, nil
}

func (q *query) parseExpand(v string) error {
	mode, rest := v, ""
	if i := strings.IndexByte(v, '('); i >= 0 {
		mode, rest = v[:i], v[i:]
	}
	switch mode {
	case ".", "*", "~":
		q.expand = mode[0]
	default:
		return badQueryValue("$expand", v)
	}
	q.levels = 1
	if rest == "" {
		return nil
	}
	lv, ok := strings.CutPrefix(rest, "($levels=")
	lv, ok2 := strings.CutSuffix(lv, ")")
	if !ok || !ok2 {
		return badQueryValue("$expand", v)
	}
	n, err := strconv.Atoi(lv)
	if err != nil {
		return newAPIError(http.StatusBadRequest, "QueryParameterValueTypeError", v, "$expand")
	}
	if n < 1 || n > maxExpandLevels {
		return newAPIError(http.StatusBadRequest, "QueryParameterOutOfRange", lv, "$levels", "1-"+strconv.Itoa(maxExpandLevels))
	}
	q.levels = n
	return nil
}

// applyQuery applies the options to the encoded resource, in the order
// DSP0266 gives: only, $filter, $skip/$top, $expand, $select. When only
// replaces the collection by its member, the member's ETag is returned.
func (s *service) applyQuery(r *request, body []byte, q *query) (map[string]any, string, error) {
	m, err := decodeTree(body)
	if err != nil {
		return nil, "", err
	}
	members, isColl := m["Members"].([]any)
	if (q.only || q.filter != nil || q.hasTop || q.hasSkip) && !isColl {
		return nil, "", newAPIError(http.StatusBadRequest, "QueryNotSupportedOnResource")
	}
	if q.only {
		if len(members) != 1 {
			return m, "", nil
		}
		id, _ := members[0].(map[string]any)["@odata.id"].(string)
		b, ok := s.resolve(r, id)
		if !ok {
			return m, "", nil
		}
		mm, err := decodeTree(b)
		return mm, etagOf(b), err
	}
	if q.filter != nil {
		kept := []any{}
		for _, mem := range members {
			id, _ := mem.(map[string]any)["@odata.id"].(string)
			b, ok := s.resolve(r, id)
			if !ok {
				continue
			}
			mm, err := decodeTree(b)
			if err != nil {
				return nil, "", err
			}
			if q.filter.eval(mm) {
				kept = append(kept, mem)
			}
		}
		members = kept
		m["Members@odata.count"] = len(members)
	}
	if q.hasSkip || q.hasTop {
		total := len(members)
		lo := min(q.skip, total)
		hi := total
		if q.hasTop {
			hi = min(lo+q.top, total)
		}
		members = members[lo:hi]
		if hi < total {
			m["Members@odata.nextLink"] = nextLink(r.c.Request.URL.Path, q.rawQuery, hi)
		}
	}
	m["Members"] = members
	if !isColl {
		delete(m, "Members")
	}
	var out any = m
	if q.expand != 0 {
		out = s.expand(r, m, q.expand, q.levels, false)
	}
	if q.sel != nil {
		out = selectProps(out.(map[string]any), q.sel)
	}
	return out.(map[string]any), "", nil
}

// nextLink keeps every option of the request but $skip, which it advances.
func nextLink(path, raw string, skip int) string {
	var keep []string
	for p := range strings.SplitSeq(raw, "&") {
		k, _, _ := strings.Cut(p, "=")
		if k == "" || k == "$skip" || strings.EqualFold(k, "%24skip") {
			continue
		}
		keep = append(keep, p)
	}
	keep = append(keep, "$skip="+strconv.Itoa(skip))
	return path + "?" + strings.Join(keep, "&")
}

// isRef reports whether v is a bare reference {"@odata.id": "..."}.
func isRef(v any) (string, bool) {
	m, ok := v.(map[string]any)
	if !ok || len(m) != 1 {
		return "", false
	}
	id, ok := m["@odata.id"].(string)
	return id, ok && !strings.Contains(id, "#")
}

// expand replaces references by the resources they name: '.' those outside
// Links, '~' those inside, '*' all, to the given depth.
func (s *service) expand(r *request, v any, mode byte, levels int, inLinks bool) any {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			if strings.HasPrefix(k, "@") || strings.Contains(k, "@odata.") {
				continue
			}
			child := inLinks || k == "Links"
			if id, ok := isRef(e); ok {
				if mode == '*' || mode == '.' && !child || mode == '~' && child {
					if b, ok := s.resolve(r, id); ok {
						if mm, err := decodeTree(b); err == nil {
							if levels > 1 {
								s.expand(r, mm, mode, levels-1, false)
							}
							v[k] = mm
						}
					}
				}
				continue
			}
			v[k] = s.expand(r, e, mode, levels, child)
		}
		return v
	case []any:
		for i, e := range v {
			if id, ok := isRef(e); ok {
				if mode == '*' || mode == '.' && !inLinks || mode == '~' && inLinks {
					if b, ok := s.resolve(r, id); ok {
						if mm, err := decodeTree(b); err == nil {
							if levels > 1 {
								s.expand(r, mm, mode, levels-1, false)
							}
							v[i] = mm
						}
					}
				}
				continue
			}
			v[i] = s.expand(r, e, mode, levels, inLinks)
		}
		return v
	}
	return v
}

// resolve renders the resource at path as the requester would see it, or
// reports false when it does not exist or the requester may not read it.
func (s *service) resolve(r *request, path string) ([]byte, bool) {
	path, _, _ = strings.Cut(path, "?")
	path = strings.TrimSuffix(path, "/")
	if path == pathRedfish+"/v1" {
		path = pathRoot
	}
	res, params := s.match(path)
	if res == nil || res.get == nil || res.raw != nil {
		return nil, false
	}
	sub := &request{c: r.c, snap: r.snap, params: params, who: r.who, authed: r.authed}
	if !res.public {
		if !r.authed || !allowedUnder(r.who.role, res.under, res.entity, http.MethodGet, res.self != nil && res.self(sub)) {
			return nil, false
		}
	}
	v, err := res.get(sub)
	if err != nil {
		return nil, false
	}
	b, err := encodeJSON(v)
	if err != nil {
		return nil, false
	}
	return b, true
}

// selectProps keeps the selected properties plus the identity annotations
// DSP0266 requires ($select on a nested path keeps the path's parents).
func selectProps(m map[string]any, sel [][]string) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		if k == "@odata.id" || k == "@odata.type" || k == "@odata.context" || k == "@odata.etag" {
			out[k] = v
		}
	}
	for _, p := range sel {
		copyPath(out, m, p)
	}
	return out
}

func copyPath(dst, src map[string]any, p []string) {
	v, ok := src[p[0]]
	if !ok {
		return
	}
	if len(p) == 1 {
		dst[p[0]] = v
		return
	}
	switch sv := v.(type) {
	case map[string]any:
		d, _ := dst[p[0]].(map[string]any)
		if d == nil {
			d = map[string]any{}
			dst[p[0]] = d
		}
		copyPath(d, sv, p[1:])
	case []any:
		// Members/Name: select within every element.
		d, _ := dst[p[0]].([]any)
		if d == nil {
			d = make([]any, len(sv))
			for i := range d {
				d[i] = map[string]any{}
			}
			dst[p[0]] = d
		}
		for i, e := range sv {
			if em, ok := e.(map[string]any); ok {
				if dm, ok := d[i].(map[string]any); ok {
					if id, ok := em["@odata.id"]; ok {
						dm["@odata.id"] = id
					}
					copyPath(dm, em, p[1:])
				}
			}
		}
	}
}
