/**
 * Which pods a feature takes: by address (standalone mode's CIDRs) or by the
 * labels of the pod and its namespace (Kubernetes mode's selectors), with
 * Kubernetes' label selector semantics. Egress routes and persistent mirrors
 * select by it; the labels come from {@link dev.ferry.selection.PodLabels}.
 */
package dev.ferry.selection;
