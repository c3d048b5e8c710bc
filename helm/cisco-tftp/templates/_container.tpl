{{/* Pieces of a container spec shared by Kea, its init container and the sidecar. */}}

{{/* A container security context: non-root, read-only root, drop ALL, add $caps. Added
     capabilities reach a non-root process only through file capabilities on its binary,
     which no_new_privs (allowPrivilegeEscalation: false) would block: so that flag is
     false exactly when nothing is added. */}}
{{- define "cisco-tftp.containerSecurityContext" -}}
{{- $caps := fromJsonArray .caps -}}
allowPrivilegeEscalation: {{ if $caps }}true{{ else }}false{{ end }}
readOnlyRootFilesystem: true
runAsNonRoot: true
{{- with .runAsUser }}
runAsUser: {{ . }}
{{- end }}
privileged: false
capabilities:
  drop: ["ALL"]
  {{- if $caps }}
  add: {{ toJson $caps }}
  {{- end }}
{{- end -}}

{{- define "cisco-tftp.image" -}}
{{- printf "%s:%s" .repository (toString .tag) -}}
{{- end -}}
