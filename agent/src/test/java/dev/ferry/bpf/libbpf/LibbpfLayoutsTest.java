package dev.ferry.bpf.libbpf;

import dev.ferry.testing.Shell;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.StructLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.stream.Stream;

import static java.lang.foreign.MemoryLayout.PathElement.groupElement;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The hand-kept layouts agree with the C headers the agent is built against, member by member. */
class LibbpfLayoutsTest {
    @TempDir
    static Path work;
    private static final Map<String, String> C = new HashMap<>();

    @BeforeAll
    static void measureTheCSide() throws IOException {
        Path source = work.resolve("libbpf_layouts.c");
        try (InputStream in = LibbpfLayoutsTest.class.getResourceAsStream("libbpf_layouts.c")) {
            Files.copy(in, source);
        }
        Path binary = work.resolve("libbpf_layouts");
        Shell.run("cc", "-Wall", "-Werror", "-o", binary.toString(), source.toString());
        for (String line : Shell.run(binary.toString()).split("\n")) {
            int space = line.indexOf(' ');
            C.put(line.substring(0, space), line.substring(space + 1));
        }
    }

    static Stream<StructLayout> layouts() {
        return Stream.of(BpfObjectOpenOpts.LAYOUT, BpfTcHook.LAYOUT, BpfTcOpts.LAYOUT, BpfTestRunOpts.LAYOUT,
                BpfMapInfo.LAYOUT, BpfProgInfo.LAYOUT, BpfLinkInfo.LAYOUT, SkBuff.LAYOUT);
    }

    @ParameterizedTest
    @MethodSource("layouts")
    void javaLayoutMatchesTheCStruct(StructLayout layout) {
        String struct = layout.name().orElseThrow();
        assertEquals(C.get(struct), Long.toString(layout.byteSize()), "sizeof(struct " + struct + ")");
        int named = 0;
        for (MemoryLayout member : layout.memberLayouts()) {
            if (member.name().isEmpty()) {
                continue; // padding
            }
            String name = member.name().get();
            String c = C.get(struct + "." + name);
            assertNotNull(c, struct + "." + name + " is missing from libbpf_layouts.c");
            assertEquals(c, layout.byteOffset(groupElement(name)) + " " + member.byteSize(),
                    "offset and size of " + struct + "." + name);
            named++;
        }
        long cMembers = C.keySet().stream().filter(k -> k.startsWith(struct + ".")).count();
        assertEquals(cMembers, named, "members measured in C but not laid out in Java");
        assertTrue(named > 0);
    }
}
