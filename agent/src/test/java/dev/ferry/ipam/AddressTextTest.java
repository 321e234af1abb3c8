package dev.ferry.ipam;

import dev.ferry.net.IpPrefix;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import static org.junit.jupiter.api.Assertions.assertEquals;

class AddressTextTest {
    @ParameterizedTest(name = "{0} is named {1}")
    @CsvSource({
            "10.244.1.7, 10.244.1.7",
            "0:0:0:0:0:0:0:0, ::",
            "0:0:0:0:0:0:0:1, ::1",
            "FD00:0:0:0:0:0:0:0, fd00::",
            "fd00:10:244:1:0:0:0:1, fd00:10:244:1::1",
            "2001:db8:0:0:1:0:0:1, 2001:db8::1:0:0:1",
            "2001:db8:0:0:0:1:0:0, 2001:db8::1:0:0",
            "2001:db8:0:1:1:1:1:1, 2001:db8:0:1:1:1:1:1",
            "2001:0db8:0000:0000:0000:0000:0002:0001, 2001:db8::2:1",
    })
    void fileNamesAreRfc5952Text(String address, String name) {
        assertEquals(name, AddressText.of(IpPrefix.literal(address)));
    }
}
