package dev.ferry.deploy;

import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.api.model.apps.DaemonSet;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * deploy/Containerfile cannot be built here (no container engine); these check
 * that what it copies exists and that the programs the manifests start are
 * ones the build puts into dist/bin.
 */
class ContainerfileTest {
    private static final String CONTAINERFILE = Repo.read("deploy/Containerfile");
    private static final Pattern COPY = Pattern.compile("(?m)^COPY\\s+(--from=\\S+\\s+)?(.+)$");
    private static final Pattern LAUNCHER = Pattern.compile("/opt/ferry/bin/([\\w.-]+)");

    @Test
    void everyFileTheBuildStageCopiesExistsInTheRepository() {
        List<String> sources = new ArrayList<>();
        Matcher m = COPY.matcher(CONTAINERFILE);
        while (m.find()) {
            if (m.group(1) == null) {
                String[] words = m.group(2).trim().split("\\s+");
                sources.addAll(List.of(words).subList(0, words.length - 1));
            }
        }
        assertEquals(List.of("pom.xml", "bpf/", "cni-plugin/", "agent/", "bench/jmh/"), sources);
        for (String s : sources) {
            assertTrue(Files.exists(Repo.path(s)), s + " does not exist in the repository");
        }
    }

    @Test
    void theBuildStageCopiesEveryReactorModule() {
        String pom = Repo.read("pom.xml");
        Matcher m = Pattern.compile("<module>([^<]+)</module>").matcher(pom);
        while (m.find()) {
            assertTrue(CONTAINERFILE.contains("COPY " + m.group(1) + "/ "), "module " + m.group(1) + " is not copied");
        }
    }

    @Test
    void theRuntimeStageTakesTheDistributionTheBuildLeavesNextToThePom() {
        assertTrue(CONTAINERFILE.contains("WORKDIR /src\n"));
        assertTrue(CONTAINERFILE.contains("COPY --from=build /src/dist/ /opt/ferry/\n"));
        assertTrue(Repo.read("agent/pom.xml").contains("<ferry.dist>${project.basedir}/../dist</ferry.dist>"),
                "package no longer leaves dist/ at the repository root");
        assertTrue(CONTAINERFILE.contains("mvn -B -ntp -DskipTests package"));
    }

    @Test
    void everyProgramTheImageAndTheManifestsStartIsOneTheBuildPutsInDistBin() {
        DaemonSet ds = Manifests.only(PlainManifests.applied(), DaemonSet.class);
        PodSpec pod = ds.getSpec().getTemplate().getSpec();
        StringBuilder commands = new StringBuilder(CONTAINERFILE);
        Stream.concat(pod.getInitContainers().stream(), pod.getContainers().stream())
                .map(Container::getCommand).forEach(c -> commands.append(' ').append(String.join(" ", c)));
        Set<String> named = new java.util.TreeSet<>();
        Matcher m = LAUNCHER.matcher(commands);
        while (m.find()) {
            named.add(m.group(1));
        }
        assertEquals(Set.of("ferry-agent", "ferry-cni"), named);
        assertTrue(Files.isRegularFile(Repo.path("agent/src/dist/bin/ferry-agent")));
        assertTrue(Files.isRegularFile(Repo.path("agent/src/dist/bin/ferry")), "the CLI docs/install.md runs with kubectl exec");
        // ferry-cni is built by cni-plugin/Makefile and copied into dist/bin by agent/pom.xml.
        assertTrue(Repo.read("cni-plugin/Makefile").contains("$(OUT)/ferry-cni:"));
        assertTrue(Repo.read("agent/pom.xml").contains("cni-plugin/target/ferry-cni\" todir=\"${ferry.dist}/bin\""));
    }

    @Test
    void theRuntimeStageHasAJre25LibbpfAndNft() {
        assertTrue(CONTAINERFILE.contains("FROM docker.io/library/eclipse-temurin:25-jre\n"));
        assertTrue(CONTAINERFILE.contains(" libbpf1 "));
        assertTrue(CONTAINERFILE.contains(" nftables "));
    }
}
