package hostkeys

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"math/bits"
)

// The Functions host's key format (azure-functions-host Security/SecretGenerator.cs, on
// Microsoft.Security.Utilities' IdentifiableSecrets.GenerateUrlSafeBase64Key(seed, 40, "AzFu")):
// 40 bytes — 32 random, one more random byte, the signature "AzFu" decoded (3 bytes), then the
// Marvin32 checksum (seeded per key kind) of the first 36 bytes, little-endian — encoded in
// URL-safe base64 with its "==" padding: 56 characters, "AzFu" at offset 44. Secret scanners
// recognise such keys (SEC101/158, AzureFunctionIdentifiableKey).

// Key kinds (the Marvin checksum seeds of SecretGenerator.cs).
const (
	masterKeySeed   uint64 = 0x4d61737465723030 // "Master00"
	systemKeySeed   uint64 = 0x53797374656d3030 // "System00"
	functionKeySeed uint64 = 0x46756e6374693030 // "Functi00"
)

const signature = "AzFu"

// Kind is what a generated key is for; it picks the checksum seed.
type Kind int

const (
	// FunctionKey is a host or function key (functionKeys, <function>.json keys).
	FunctionKey Kind = iota
	// MasterKey is the host's master key.
	MasterKey
	// SystemKey is an extension's system key (eventgrid_extension, blobs_extension, …).
	SystemKey
)

func (k Kind) seed() uint64 {
	switch k {
	case MasterKey:
		return masterKeySeed
	case SystemKey:
		return systemKeySeed
	}
	return functionKeySeed
}

// Generate returns a new key value of kind k, in the Functions host's format.
func Generate(k Kind) (string, error) {
	var b [40]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("hostkeys: generate a key: %w", err)
	}
	sig, _ := base64.StdEncoding.DecodeString(signature) // 3 bytes
	// 33 bytes before the signature: 264 bits, a multiple of 6, so the signature renders as is
	// (the 4-byte signature word keeps its random first byte).
	copy(b[33:36], sig)
	binary.LittleEndian.PutUint32(b[36:], uint32(marvin32(b[:36], k.seed())))
	return base64.URLEncoding.EncodeToString(b[:]), nil
}

// Valid reports whether v has the Functions key format with a checksum of kind k (a key set by
// hand in another format is still accepted by the host; this is for tests and diagnostics).
func Valid(v string, k Kind) bool {
	b, err := base64.URLEncoding.DecodeString(v)
	if err != nil || len(b) != 40 || v[44:48] != signature {
		return false
	}
	return binary.LittleEndian.Uint32(b[36:]) == uint32(marvin32(b[:36], k.seed()))
}

// marvin32 is Marvin32 collapsed to 32 bits as .NET's Marvin.ComputeHash32 does (hi ^ lo).
func marvin32(d []byte, seed uint64) int32 {
	p0, p1 := uint32(seed), uint32(seed>>32)
	block := func() {
		p1 ^= p0
		p0 = bits.RotateLeft32(p0, 20)
		p0 += p1
		p1 = bits.RotateLeft32(p1, 9)
		p1 ^= p0
		p0 = bits.RotateLeft32(p0, 27)
		p0 += p1
		p1 = bits.RotateLeft32(p1, 19)
	}
	for len(d) >= 4 {
		p0 += binary.LittleEndian.Uint32(d)
		block()
		d = d[4:]
	}
	final := uint32(0x80)
	for i := len(d) - 1; i >= 0; i-- {
		final = final<<8 | uint32(d[i])
	}
	p0 += final
	block()
	block()
	return int32(p1 ^ p0)
}
