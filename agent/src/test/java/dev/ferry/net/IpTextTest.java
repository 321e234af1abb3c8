package dev.ferry.net;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class IpTextTest {

    @ParameterizedTest
    @CsvSource({
        "10.244.1.5, 10.244.1.5",
        "::, ::",
        "::1, ::1",
        "fd00::, fd00::",
        "fd00:0:0:0:0:0:0:5, fd00::5",
        "2001:db8:0:1:0:0:0:1, 2001:db8:0:1::1",   // the longest zero run is compressed
        "2001:db8:0:0:1:0:0:1, 2001:db8::1:0:0:1", // on a tie, the first
        "2001:db8:0:1:1:1:1:1, 2001:db8:0:1:1:1:1:1", // a single zero group is not compressed
        "FD00:ABCD::1, fd00:abcd::1",
    })
    void ipv6IsPrintedInRfc5952Form(String in, String expected) {
        assertEquals(expected, IpText.format(IpPrefix.literal(in)));
    }
}
