package protocol

import (
	"encoding/hex"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Link limits.
const (
	MaxLinkLen      = 8192
	MaxLinkName     = 256
	MaxLinkTrackers = 32
	MaxTrackerURL   = 512
	MaxLinkPeers    = 64
	MaxOriginURL    = 2048
)

// Link is a BEP 46 magnet link to a live stream:
//
//	magnet:?xs=urn:btpk:<key hex>&s=<salt hex>&dn=<name>&tr=<tracker>&x.pe=<host:port>&x.origin=<url>
//
// Everything but the key is a hint: the signed descriptor is authoritative.
type Link struct {
	Stream   Stream
	Name     string   // dn: display name, untrusted
	Trackers []string // tr: http, https or udp announce URLs
	Peers    []string // x.pe: host:port of peers to dial directly
	Origin   string   // x.origin: origin playlist URL for cold start and fallback
}

const btpkPrefix = "urn:btpk:"
const btihPrefix = "urn:btih:"

// String formats the link with parameters in a fixed order: xs, s, dn, tr, x.pe, x.origin.
func (l Link) String() string {
	var b strings.Builder
	b.WriteString("magnet:?xs=")
	b.WriteString(btpkPrefix)
	b.WriteString(hex.EncodeToString(l.Stream.Key[:]))
	if len(l.Stream.Salt) > 0 {
		b.WriteString("&s=")
		b.WriteString(hex.EncodeToString(l.Stream.Salt))
	}
	add := func(k, v string) {
		b.WriteString("&")
		b.WriteString(k)
		b.WriteString("=")
		b.WriteString(url.QueryEscape(v))
	}
	if l.Name != "" {
		add("dn", l.Name)
	}
	for _, t := range l.Trackers {
		add("tr", t)
	}
	for _, p := range l.Peers {
		add("x.pe", p)
	}
	if l.Origin != "" {
		add("x.origin", l.Origin)
	}
	return b.String()
}

// ParseLink parses and validates a link. Unknown parameters are ignored; a parameter that
// may appear once but appears twice is an error, as is anything over the limits above.
func ParseLink(s string) (Link, error) {
	var l Link
	if len(s) > MaxLinkLen {
		return l, fieldErr("link", ErrTooLarge, "%d bytes, at most %d", len(s), MaxLinkLen)
	}
	q, ok := strings.CutPrefix(s, "magnet:?")
	if !ok {
		return l, fieldErr("link", ErrInvalid, "not a magnet URI (want prefix \"magnet:?\")")
	}
	v, err := parseParams(q)
	if err != nil {
		return l, err
	}
	single := func(k string) (string, error) {
		vs := v[k]
		if len(vs) > 1 {
			return "", fieldErr("link."+k, ErrInvalid, "appears %d times", len(vs))
		}
		if len(vs) == 0 {
			return "", nil
		}
		return vs[0], nil
	}
	xs, err := single("xs")
	if err != nil {
		return l, err
	}
	keyHex, ok := strings.CutPrefix(xs, btpkPrefix)
	if !ok {
		return l, fieldErr("link.xs", ErrInvalid, "missing or not %q", btpkPrefix)
	}
	if len(keyHex) != 2*len(l.Stream.Key) {
		return l, fieldErr("link.xs", ErrInvalid, "key has %d hex digits, want %d", len(keyHex), 2*len(l.Stream.Key))
	}
	if _, err := hex.Decode(l.Stream.Key[:], []byte(keyHex)); err != nil {
		return l, fieldErr("link.xs", ErrInvalid, "%v", err)
	}
	saltHex, err := single("s")
	if err != nil {
		return l, err
	}
	if len(saltHex) > 2*MaxSaltLen {
		return l, fieldErr("link.s", ErrTooLarge, "salt longer than %d bytes", MaxSaltLen)
	}
	if saltHex != "" {
		if l.Stream.Salt, err = hex.DecodeString(saltHex); err != nil {
			return l, fieldErr("link.s", ErrInvalid, "%v", err)
		}
	}
	if l.Name, err = single("dn"); err != nil {
		return l, err
	}
	if len(l.Name) > MaxLinkName || !utf8.ValidString(l.Name) {
		return l, fieldErr("link.dn", ErrInvalid, "not UTF-8 of at most %d bytes", MaxLinkName)
	}
	if xt, err := single("xt"); err != nil {
		return l, err
	} else if ihHex, ok := strings.CutPrefix(xt, btihPrefix); ok && len(ihHex) == 40 {
		// Only the hex form is compared; other xt forms (base32, btmh) are ignored.
		want := l.Stream.InfoHash()
		if !strings.EqualFold(ihHex, hex.EncodeToString(want[:])) {
			return l, fieldErr("link.xt", ErrWrongStream, "info-hash does not match key and salt")
		}
	}
	if len(v["tr"]) > MaxLinkTrackers {
		return l, fieldErr("link.tr", ErrTooLarge, "%d trackers, at most %d", len(v["tr"]), MaxLinkTrackers)
	}
	for _, t := range v["tr"] {
		if err := CheckTrackerURL(t); err != nil {
			return l, fieldErr("link.tr", ErrInvalid, "%q: %v", t, err)
		}
	}
	l.Trackers = v["tr"]
	if len(v["x.pe"]) > MaxLinkPeers {
		return l, fieldErr("link.x.pe", ErrTooLarge, "%d peers, at most %d", len(v["x.pe"]), MaxLinkPeers)
	}
	for _, p := range v["x.pe"] {
		if err := CheckPeerAddr(p); err != nil {
			return l, fieldErr("link.x.pe", ErrInvalid, "%q: %v", p, err)
		}
	}
	l.Peers = v["x.pe"]
	if l.Origin, err = single("x.origin"); err != nil {
		return l, err
	}
	if l.Origin != "" {
		if err := checkURL(l.Origin, MaxOriginURL, "http", "https"); err != nil {
			return l, fieldErr("link.x.origin", ErrInvalid, "%v", err)
		}
	}
	return l, nil
}

type linkError string

func (e linkError) Error() string { return string(e) }

// checkURL accepts an absolute URL with one of the schemes and a host, at most max bytes.
// parseParams splits a magnet query into its parameters (spec 3.1): separated by "&" only
// (url.ParseQuery also refuses ";", which is an ordinary character here), names and values
// form-decoded. Empty parameters are skipped.
func parseParams(q string) (url.Values, error) {
	v := url.Values{}
	for q != "" {
		var p string
		p, q, _ = strings.Cut(q, "&")
		if p == "" {
			continue
		}
		k, val, _ := strings.Cut(p, "=")
		name, err := url.QueryUnescape(k)
		if err != nil {
			return nil, fieldErr("link", ErrInvalid, "parameter name %q: %v", k, err)
		}
		value, err := url.QueryUnescape(val)
		if err != nil {
			return nil, fieldErr("link."+name, ErrInvalid, "%v", err)
		}
		v[name] = append(v[name], value)
	}
	return v, nil
}

func checkURL(s string, max int, schemes ...string) error {
	if len(s) > max {
		return linkError("longer than " + strconv.Itoa(max) + " bytes")
	}
	u, err := url.Parse(s)
	if err != nil {
		return err
	}
	for _, sc := range schemes {
		if u.Scheme == sc {
			if u.Hostname() == "" {
				return linkError("no host")
			}
			return nil
		}
	}
	return linkError("scheme " + strconv.Quote(u.Scheme) + " not one of " + strings.Join(schemes, ", "))
}

// CheckTrackerURL validates a tracker announce URL: http, https or udp, with a host, at most
// MaxTrackerURL bytes.
func CheckTrackerURL(s string) error { return checkURL(s, MaxTrackerURL, "http", "https", "udp") }

// UsableAddr reports whether a peer could be reached at ap: not port 0, and not an
// unspecified, multicast or broadcast address. Discovery drops every other address.
func UsableAddr(ap netip.AddrPort) bool {
	a := ap.Addr().Unmap()
	return ap.Port() != 0 && a.IsValid() && !a.IsUnspecified() && !a.IsMulticast() &&
		a != netip.AddrFrom4([4]byte{255, 255, 255, 255})
}

// CheckPeerAddr validates "host:port": an IP literal (IPv6 in brackets) or a DNS name of at
// most 253 bytes, and a port 1..65535. It does no resolution.
func CheckPeerAddr(s string) error {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return err
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil || p == 0 {
		return linkError("bad port " + strconv.Quote(port))
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return nil
	}
	if !validHostname(host) {
		return linkError("bad host " + strconv.Quote(host))
	}
	return nil
}

func validHostname(h string) bool {
	if len(h) == 0 || len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(strings.TrimSuffix(h, "."), ".") {
		if len(label) == 0 || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, c := range label {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}
