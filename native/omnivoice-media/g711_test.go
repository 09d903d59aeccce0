package main

import (
	"bytes"
	"os"
	"testing"
)

// testdata/ulaw_encode_all.bin is omnivoice_rtc.audio.g711.ulaw_encode of every int16 (in
// uint16 bit-pattern order): the Go encoder must be bit-exact with the Python one.
func TestULawEncodeMatchesPythonTable(t *testing.T) {
	want, err := os.ReadFile("testdata/ulaw_encode_all.bin")
	if err != nil {
		t.Fatal(err)
	}
	pcm := make([]int16, 65536)
	for i := range pcm {
		pcm[i] = int16(uint16(i))
	}
	got := ulawEncode(nil, pcm)
	if !bytes.Equal(got, want) {
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("sample %d: got %#x, want %#x", pcm[i], got[i], want[i])
			}
		}
	}
}

func TestULawRoundTripIsStable(t *testing.T) {
	for code := 0; code < 256; code++ {
		decoded := ulawDecodeSample(byte(code))
		again := ulawEncodeSample(decoded)
		if ulawDecodeSample(again) != decoded {
			t.Fatalf("code %#x: decode %d re-encodes to %#x", code, decoded, again)
		}
	}
}
