package dev.ferry.ipam;

import dev.ferry.net.IpPrefix;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.math.BigInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;

class AddressRangeTest {
    @ParameterizedTest(name = "{0} hands out {1} .. {2}")
    @CsvSource({
            "10.244.1.0/24, 10.244.1.1, 10.244.1.254, 254",
            "10.244.1.77/24, 10.244.1.1, 10.244.1.254, 254",
            "10.244.1.4/30, 10.244.1.5, 10.244.1.6, 2",
            "10.244.1.4/31, 10.244.1.4, 10.244.1.5, 2",
            "10.244.1.4/32, 10.244.1.4, 10.244.1.4, 1",
            "fd00::/120, fd00::1, fd00::ff, 255",
            "fd00::/127, fd00::, fd00::1, 2",
            "fd00::5/128, fd00::5, fd00::5, 1",
    })
    void usableRangeSkipsNetworkAndIpv4Broadcast(String cidr, String first, String last, long size) {
        AddressRange range = AddressRange.of(IpPrefix.parse(cidr));
        assertEquals(IpPrefix.literal(first), range.toAddress(range.first()));
        assertEquals(IpPrefix.literal(last), range.toAddress(range.last()));
        assertEquals(BigInteger.valueOf(size), range.size());
    }
}
