package main

// ITU-T G.711 μ-law, the same tables as omnivoice_rtc/audio/g711.py.

var ulawSegEnd = [8]int32{0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF}

// ulawEncodeSample follows the ITU-T G.711 reference (as CPython's audioop): the top 14
// bits of the sample, bit-exact with omnivoice_rtc.audio.g711.ULAW_ENCODE_TABLE.
func ulawEncodeSample(sample int16) byte {
	pcm := int32(sample) >> 2
	mask := int32(0xFF)
	if pcm < 0 {
		pcm = -pcm
		mask = 0x7F
	}
	if pcm > 8159 {
		pcm = 8159
	}
	pcm += 0x84 >> 2
	seg := 0
	for seg < 8 && pcm > ulawSegEnd[seg] {
		seg++
	}
	if seg >= 8 {
		return byte(0x7F ^ mask)
	}
	return byte((int32(seg<<4) | (pcm>>(seg+1))&0xF) ^ mask)
}

const ulawBias = 0x84

func ulawDecodeSample(u byte) int16 {
	u = ^u
	sign := u & 0x80
	exponent := (u >> 4) & 0x07
	mantissa := int32(u & 0x0F)
	magnitude := ((mantissa << 3) + ulawBias) << exponent
	magnitude -= ulawBias
	if sign != 0 {
		return int16(-magnitude)
	}
	return int16(magnitude)
}

// ulawEncode appends the μ-law bytes of PCM16 samples to dst.
func ulawEncode(dst []byte, pcm []int16) []byte {
	for _, s := range pcm {
		dst = append(dst, ulawEncodeSample(s))
	}
	return dst
}
