# lib/env-file.sh: the env-file input, written into the new release.
# ENV_FILE_PATH is relative to the release ('' for none), ENV_FILE_TEXT the
# content. The text is part of this script, which came on stdin, and printf
# is a builtin of dash, bash and BusyBox sh: it is never an argument of any
# process. It goes to a temporary file in the release (mode 600 from the
# umask), which is then renamed over the target: the release never holds half
# a file, and a hard-linked copy from the upload cache (hardlink-releases)
# is replaced, never written through, so the cache never holds the text.
# Needs lib/output.sh, lib/exit-codes.sh, lib/release.sh, lib/shared.sh, lib/fs.sh.

write_env_file() {
  env_target="$RELEASE_PATH/$ENV_FILE_PATH"
  if env_link=$(symlinked_parent "$RELEASE_PATH" "$ENV_FILE_PATH"); then
    fail env-file "env-file-path $ENV_FILE_PATH: $env_link is a symlink in the release (a shared path?), so the file would be written outside the release; choose another env-file-path"
  fi
  if [ -L "$env_target" ]; then
    if [ "$SHARED_AUTO" = 1 ] && { [ -e "$SHARED/$ENV_FILE_PATH" ] || [ -L "$SHARED/$ENV_FILE_PATH" ]; }; then
      fail env-file "env-file-path $ENV_FILE_PATH is a symlink in the release (shared-auto linked shared/$ENV_FILE_PATH); remove shared/$ENV_FILE_PATH on the server or choose another env-file-path"
    fi
    fail env-file "env-file-path $ENV_FILE_PATH is a symlink in the release, from the workspace: remove it from the workspace (env-file writes the file in its place) or choose another env-file-path"
  fi
  if [ -d "$env_target" ]; then
    fail env-file "env-file-path $ENV_FILE_PATH is a folder in the release; choose another env-file-path"
  fi
  env_dir=$(dirname "$env_target")
  if ! problem=$(make_dirs "$env_dir" 2>&1); then
    fail env-file "env-file-path $ENV_FILE_PATH: its folder cannot be made in the release ($problem); choose another env-file-path"
  fi
  if [ ! -w "$env_dir" ]; then
    fail env-file "env-file-path $ENV_FILE_PATH: the folder $(dirname "$ENV_FILE_PATH") is read-only in the release (its mode comes from the workspace); make it writable by its owner in the workspace or choose another env-file-path"
  fi
  # In the release root, not beside the target: a writable folder's default
  # ACLs would give writable-user the new file until the chmod.
  env_temp="$RELEASE_PATH/.atomic-deploy-env-file.$$"
  if ! (umask 077 && printf '%s' "$ENV_FILE_TEXT" >"$env_temp"); then
    fail env-file "env-file could not be written to $env_dir (is the server's disk full?)"
  fi
  chmod 600 "$env_temp"
  mv -f "$env_temp" "$env_target"
  say "       $ENV_FILE_PATH written, mode 600"
}
