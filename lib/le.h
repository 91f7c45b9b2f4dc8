/*
 * le.h - little-endian integers in byte buffers, as the stream, zip and
 * safetensors formats store them.  Internal to libt2m (and its tests).
 */
#ifndef T2M_LE_H
#define T2M_LE_H

#include <stdint.h>

static inline uint16_t
t2m_le16(const unsigned char *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static inline uint32_t
t2m_le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

static inline uint64_t
t2m_le64(const unsigned char *p)
{
	return (uint64_t)t2m_le32(p) | (uint64_t)t2m_le32(p + 4) << 32;
}

static inline void
t2m_put16(unsigned char *p, uint16_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
}

static inline void
t2m_put32(unsigned char *p, uint32_t v)
{
	t2m_put16(p, (uint16_t)v);
	t2m_put16(p + 2, (uint16_t)(v >> 16));
}

static inline void
t2m_put64(unsigned char *p, uint64_t v)
{
	t2m_put32(p, (uint32_t)v);
	t2m_put32(p + 4, (uint32_t)(v >> 32));
}

#endif
