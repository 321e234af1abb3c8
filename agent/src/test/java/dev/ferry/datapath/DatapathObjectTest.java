package dev.ferry.datapath;

import dev.ferry.testing.Shell;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertTrue;

/** The shipped object really uses the redirect helpers the design is built on. */
class DatapathObjectTest {
    static final int BPF_FUNC_REDIRECT_NEIGH = 152;
    static final int BPF_FUNC_REDIRECT_PEER = 155;

    @Test
    void objectCallsRedirectPeerAndRedirectNeigh() throws Exception {
        Path object = Path.of(DatapathObjectTest.class.getResource(Datapath.OBJECT_RESOURCE).toURI());
        String disassembly = Shell.run("llvm-objdump", "-d", object.toString());
        assertTrue(calls(disassembly, BPF_FUNC_REDIRECT_PEER), "no call 155 (bpf_redirect_peer) in " + object);
        assertTrue(calls(disassembly, BPF_FUNC_REDIRECT_NEIGH), "no call 152 (bpf_redirect_neigh) in " + object);
    }

    private static boolean calls(String disassembly, int helper) {
        return Pattern.compile("\\bcall " + helper + "\\b").matcher(disassembly).find();
    }
}
