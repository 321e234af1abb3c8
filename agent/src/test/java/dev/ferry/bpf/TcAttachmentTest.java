package dev.ferry.bpf;

import dev.ferry.testing.BpfPins;
import dev.ferry.testing.RequiresRoot;
import dev.ferry.testing.Shell;
import dev.ferry.testing.TestNetns;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

@RequiresRoot
class TcAttachmentTest {
    private static final int HANDLE = 0xfe;
    private static final int PRIORITY = 7;

    private final BpfPins root = BpfPins.create("ferry-test-bpf");
    private TestNetns ns;
    private BpfObject object;
    private int ifindex;

    @BeforeEach
    void setUp() {
        ns = TestNetns.create("fbc");
        ns.ip("link", "add", "fbc-a", "type", "veth", "peer", "name", "fbc-b");
        ifindex = ns.ifindex("fbc-a");
        object = BpfFixtures.loadLayer(root);
    }

    @AfterEach
    void tearDown() throws Exception {
        try {
            object.close();
            ns.close();
        } finally {
            root.close();
        }
    }

    private TcAttachment attach(String program) {
        BpfProgram p = object.program(program);
        return ns.handle().run(() -> TcAttachment.attach(p, ifindex, TcHook.INGRESS, HANDLE, PRIORITY));
    }

    private Optional<TcAttachment> find(TcHook hook, int priority) {
        return ns.handle().run(() -> TcAttachment.find(ifindex, hook, HANDLE, priority));
    }

    /** tc inside the namespace: to look at the kernel's side of what the attachment claims. */
    private String tc(String... args) {
        String[] command = new String[args.length + 1];
        command[0] = "tc";
        System.arraycopy(args, 0, command, 1, args.length);
        Shell.Result result = ns.exec(command);
        assertTrue(result.ok(), result.stderr());
        return result.stdout();
    }

    @Test
    void attachCreatesClsactAndRunsTheProgramAsAFilter() {
        assertTrue(find(TcHook.INGRESS, PRIORITY).isEmpty(), "no clsact qdisc yet");
        try (TcAttachment attachment = attach("verdict_from_config")) {
            int id = ns.handle().run(attachment::programId);
            assertEquals(object.program("verdict_from_config").id(), id);
            String filters = tc("filter", "show", "dev", "fbc-a", "ingress");
            assertTrue(filters.contains("handle 0xfe") && filters.contains(" id " + id + " "), filters);
        }
    }

    @Test
    void replaceAndReattachSwapTheProgramInPlace() {
        TcAttachment attachment = attach("verdict_from_config");
        ns.handle().execute(() -> attachment.replace(object.program("verdict_shot")));
        assertEquals(object.program("verdict_shot").id(), (int) ns.handle().run(attachment::programId));

        attach("verdict_from_config"); // same handle and priority: BPF_TC_F_REPLACE swaps, no second filter
        assertEquals(object.program("verdict_from_config").id(), (int) ns.handle().run(attachment::programId));
        String filters = tc("filter", "show", "dev", "fbc-a", "ingress");
        assertEquals(1, filters.lines().filter(l -> l.contains("handle 0xfe")).count(), filters);
    }

    @Test
    void findLooksUpTheFilterByHookHandleAndPriority() {
        attach("verdict_shot");
        Optional<TcAttachment> found = find(TcHook.INGRESS, PRIORITY);
        assertTrue(found.isPresent());
        assertEquals(object.program("verdict_shot").id(), (int) ns.handle().run(found.get()::programId));
        assertTrue(find(TcHook.INGRESS, PRIORITY + 1).isEmpty(), "another priority");
        assertTrue(find(TcHook.EGRESS, PRIORITY).isEmpty(), "the other hook");
    }

    @Test
    void closeLeavesTheFilterInTheKernelEvenAfterTheObjectCloses() {
        int id = object.program("verdict_shot").id();
        attach("verdict_shot").close();
        object.close();
        Optional<TcAttachment> found = find(TcHook.INGRESS, PRIORITY);
        assertTrue(found.isPresent());
        assertEquals(id, (int) ns.handle().run(found.get()::programId));
    }

    @Test
    void detachRemovesTheFilterButKeepsClsact() {
        TcAttachment attachment = attach("verdict_shot");
        ns.handle().execute(attachment::detach);
        assertTrue(find(TcHook.INGRESS, PRIORITY).isEmpty());
        assertTrue(tc("qdisc", "show", "dev", "fbc-a").contains("clsact"));
        assertThrows(BpfException.class, () -> ns.handle().run(attachment::programId));
    }

    @Test
    void removeClsactTakesEveryFilterWithIt() {
        attach("verdict_shot");
        ns.handle().execute(() -> TcAttachment.removeClsact(ifindex));
        assertTrue(find(TcHook.INGRESS, PRIORITY).isEmpty());
        assertTrue(!tc("qdisc", "show", "dev", "fbc-a").contains("clsact"));
        ns.handle().execute(() -> TcAttachment.removeClsact(ifindex)); // none left: fine
    }

    @Test
    void unnamedFiltersAreRefused() {
        BpfProgram p = object.program("verdict_shot");
        assertThrows(IllegalArgumentException.class, () -> TcAttachment.attach(p, ifindex, TcHook.INGRESS, 0, 1));
        assertThrows(IllegalArgumentException.class,
                () -> TcAttachment.attach(p, ifindex, TcHook.INGRESS, 1, 0x10000));
    }
}
