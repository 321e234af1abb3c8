package dev.ferry.cni.plugin;

import dev.ferry.testing.FerryCni;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The executable itself: it must run on a host that has nothing installed beside it. */
class PluginBinaryTest {
    private static final int PT_INTERP = 3;

    @Test
    void binaryIsStaticallyLinked() throws IOException {
        ByteBuffer elf = ByteBuffer.wrap(Files.readAllBytes(FerryCni.BINARY)).order(ByteOrder.LITTLE_ENDIAN);
        byte[] magic = new byte[4];
        elf.get(0, magic);
        assertArrayEquals(new byte[] {0x7f, 'E', 'L', 'F'}, magic, "an ELF file");
        assertEquals(2, elf.get(4), "ELFCLASS64");
        assertEquals(1, elf.get(5), "little-endian");

        long phoff = elf.getLong(0x20);
        int phentsize = Short.toUnsignedInt(elf.getShort(0x36));
        int phnum = Short.toUnsignedInt(elf.getShort(0x38));
        assertTrue(phnum > 0, "has program headers");
        for (int i = 0; i < phnum; i++) {
            int type = elf.getInt(Math.toIntExact(phoff + (long) i * phentsize));
            assertTrue(type != PT_INTERP, "program header " + i + " is PT_INTERP: the binary needs a dynamic loader");
        }
    }
}
