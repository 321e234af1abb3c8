{{/* The one image every container runs. */}}
{{- define "ferry.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag }}
{{- end }}

{{/* Paths the agent configuration and the conflist share (see configmap.yaml). */}}
{{- define "ferry.socket" -}}
{{ .Values.hostPaths.runDir | trimSuffix "/" }}/ferry.sock
{{- end }}

{{- define "ferry.spoolDir" -}}
{{ .Values.hostPaths.stateDir | trimSuffix "/" }}/cni-spool
{{- end }}
