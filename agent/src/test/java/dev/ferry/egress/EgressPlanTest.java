package dev.ferry.egress;

import dev.ferry.selection.LabelSelector;
import dev.ferry.selection.PodSelection;
import dev.ferry.selection.SelectablePod;
import dev.ferry.net.IpPrefix;
import org.junit.jupiter.api.Test;

import java.net.InetAddress;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

class EgressPlanTest {
    static final InetAddress POD_A = IpPrefix.literal("10.244.1.2");
    static final InetAddress POD_B = IpPrefix.literal("10.244.1.20");
    static final InetAddress POD_C = IpPrefix.literal("10.244.1.40");
    static final InetAddress POD_V6 = IpPrefix.literal("fd00::2");

    static EgressRoute route(String name, String sources, String... destinations) {
        return new EgressRoute(name, List.of(IpPrefix.parse(sources)),
                destinations.length == 0 ? EgressRoute.OUTSIDE_THE_CLUSTER : List.of(destinations).stream().map(IpPrefix::parse).toList(),
                List.of(new NextHop(IpPrefix.literal("192.168.10.1"), Optional.empty())), false, Fallback.STACK);
    }

    static List<SelectablePod> pods(InetAddress... addresses) {
        return java.util.Arrays.stream(addresses).map(SelectablePod::unlabelled).toList();
    }

    @Test
    void podsSelectedByTheSameRoutesShareATableAndUnselectedPodsHaveNone() {
        EgressPlan plan = EgressPlan.of(List.of(route("r1", "10.244.1.0/27")), pods(POD_A, POD_B, POD_C), Map.of());

        assertEquals(plan.tableOfPod().get(POD_A), plan.tableOfPod().get(POD_B));
        assertNotEquals(0, plan.tableOfPod().get(POD_A));
        assertEquals(0, plan.tableOfPod().get(POD_C));
        assertEquals(Map.of(IpPrefix.parse("0.0.0.0/0"), "r1"), plan.tables().get(plan.tableOfPod().get(POD_A)));
        assertEquals(List.of(POD_A, POD_B), plan.selected().get("r1"));
        assertEquals(List.of(), plan.conflicts());
    }

    @Test
    void theOlderRouteWinsTheSamePrefixAndTheConflictIsReported() {
        EgressPlan plan = EgressPlan.of(List.of(route("old", "10.244.1.0/24"), route("new", "10.244.1.0/28")),
                pods(POD_A, POD_B), Map.of());

        Map<IpPrefix, String> tableOfA = plan.tables().get(plan.tableOfPod().get(POD_A));
        assertEquals(Map.of(IpPrefix.parse("0.0.0.0/0"), "old"), tableOfA);
        assertEquals(List.of(new Conflict(IpPrefix.parse("0.0.0.0/0"), "old", "new", Conflict.OLDER)), plan.conflicts());
        assertNotEquals(plan.tableOfPod().get(POD_A), plan.tableOfPod().get(POD_B), "pod B is selected by old only");
    }

    @Test
    void theMoreSpecificDestinationWinsWhateverTheAgeAndTheConflictIsReported() {
        EgressPlan plan = EgressPlan.of(List.of(route("old", "10.244.1.0/24"), route("new", "10.244.1.0/24", "203.0.113.0/24")),
                pods(POD_A), Map.of());

        assertEquals(Map.of(IpPrefix.parse("0.0.0.0/0"), "old", IpPrefix.parse("203.0.113.0/24"), "new"),
                plan.tables().get(plan.tableOfPod().get(POD_A)));
        assertEquals(List.of(new Conflict(IpPrefix.parse("203.0.113.0/24"), "new", "old", Conflict.MORE_SPECIFIC)),
                plan.conflicts());
    }

    @Test
    void aSetOfRoutesKeepsItsTableIdFromOnePlanToTheNext() {
        List<EgressRoute> routes = List.of(route("r1", "10.244.1.0/28"), route("r2", "10.244.1.16/28"));
        EgressPlan first = EgressPlan.of(routes, pods(POD_B), Map.of());
        EgressPlan second = EgressPlan.of(routes, pods(POD_A, POD_B), first.tableIds());

        assertEquals(first.tableOfPod().get(POD_B), second.tableOfPod().get(POD_B));
        assertNotEquals(second.tableOfPod().get(POD_A), second.tableOfPod().get(POD_B));
    }

    @Test
    void anIpv6PodIsSelectedByTheIpv6SourcesOfARouteAndItsTableHoldsTheIpv6Destinations() {
        EgressRoute dual = new EgressRoute("dual", List.of(IpPrefix.parse("10.244.1.0/24"), IpPrefix.parse("fd00::/64")),
                List.of(IpPrefix.parse("0.0.0.0/0"), IpPrefix.parse("::/0")),
                List.of(new NextHop(IpPrefix.literal("192.168.10.1"), Optional.empty()),
                        new NextHop(IpPrefix.literal("fd00:20::1"), Optional.empty())), false, Fallback.STACK);

        EgressPlan plan = EgressPlan.of(List.of(dual), pods(POD_A, POD_V6), Map.of());

        assertNotEquals(0, plan.tableOfPod().get(POD_V6));
        assertEquals(plan.tableOfPod().get(POD_A), plan.tableOfPod().get(POD_V6), "one pod's two addresses share the table");
        assertEquals(Map.of(IpPrefix.parse("0.0.0.0/0"), "dual", IpPrefix.parse("::/0"), "dual"),
                plan.tables().get(plan.tableOfPod().get(POD_V6)));
        assertEquals(List.of(POD_A, POD_V6), plan.selected().get("dual"));
        assertEquals(List.of(), plan.conflicts(), "prefixes of two families never conflict");
    }

    @Test
    void anIpv6PodNoSourceOfItsFamilyCoversHasNoTable() {
        EgressPlan plan = EgressPlan.of(List.of(route("r1", "10.244.1.0/24")), pods(POD_V6), Map.of());
        assertEquals(Map.of(POD_V6, 0), plan.tableOfPod());
    }

    static EgressRoute labelled(String name, LabelSelector namespaces, LabelSelector pods) {
        return new EgressRoute(name, new PodSelection.Labels(namespaces, pods), EgressRoute.OUTSIDE_THE_CLUSTER,
                List.of(new NextHop(IpPrefix.literal("192.168.10.1"), Optional.empty())), false, Fallback.STACK);
    }

    @Test
    void aLabelledRouteSelectsThePodsWhoseLabelsAndNamespaceLabelsMatch() {
        EgressRoute r = labelled("web-out", new LabelSelector(Map.of("team", "shop"), List.of()),
                new LabelSelector(Map.of("app", "web"), List.of()));
        EgressPlan plan = EgressPlan.of(List.of(r), List.of(
                SelectablePod.labelled(POD_A, Map.of("team", "shop"), Map.of("app", "web")),
                SelectablePod.labelled(POD_B, Map.of("team", "bank"), Map.of("app", "web")),
                SelectablePod.labelled(POD_C, Map.of("team", "shop"), Map.of("app", "db"))), Map.of());

        assertEquals(List.of(POD_A), plan.selected().get("web-out"));
    }

    @Test
    void aPodWhoseLabelsAreNotKnownIsNotSelectedByALabelledRoute() {
        EgressRoute everything = labelled("all", LabelSelector.EVERYTHING, LabelSelector.EVERYTHING);
        EgressPlan plan = EgressPlan.of(List.of(everything), pods(POD_A), Map.of());

        assertEquals(0, plan.tableOfPod().get(POD_A));
    }
}
