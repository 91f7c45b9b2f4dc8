/* test_basics.c - CRC-32, dtypes and sizes. */
#include "unit.h"

TEST(crc32_check_value)
{
	/* The CRC-32 check value from the catalogue of CRC algorithms. */
	CHECK_U64(0xCBF43926u, t2m_crc32(0, "123456789", 9));
	CHECK_U64(0, t2m_crc32(0, "", 0));
	/* Incremental use gives the same result as one call. */
	CHECK_U64(t2m_crc32(0, "123456789", 9),
	    t2m_crc32(t2m_crc32(0, "1234", 4), "56789", 5));
}
