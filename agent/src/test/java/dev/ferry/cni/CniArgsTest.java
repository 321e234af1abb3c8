package dev.ferry.cni;

import static dev.ferry.cni.Cni.assertCniError;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class CniArgsTest {

    @Test
    void emptyArgsHaveNoValues() {
        assertTrue(CniArgs.parse("").values().isEmpty());
        assertTrue(CniArgs.parse(null).podName().isEmpty());
    }

    @Test
    void pairsAreSplitOnSemicolonsAndEmptySegmentsSkipped() {
        assertEquals(Map.of("A", "1", "B", ""), CniArgs.parse("A=1;;B=;").values());
    }

    @Test
    void emptyValueCountsAsAbsentInTypedAccess() {
        assertTrue(CniArgs.parse("K8S_POD_NAME=").podName().isEmpty());
    }

    @ParameterizedTest
    @ValueSource(strings = {"NOVALUE", "=x", "A=b=c"})
    void malformedPairIsCode4NamingIt(String pair) {
        assertCniError(CniError.INVALID_ENVIRONMENT_VARIABLES, pair, () -> CniArgs.parse("OK=1;" + pair));
    }
}
