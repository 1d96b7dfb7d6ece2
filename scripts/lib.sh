# shellcheck shell=bash
# Shared by scripts/test and scripts/demo. Source it from a script in scripts/; it does not change
# shell options by itself.

# azbind_cd_root changes to the repository root (the parent of scripts/), whatever the caller's cwd.
azbind_cd_root() {
	cd "$(dirname "${BASH_SOURCE[0]}")/.."
}

# azbind_emulators installs the emulators' npm packages (azurite, @vercel/cosmosdb-server, rhea) into
# emulators/node_modules with `npm ci`, unless that install already matches
# emulators/package-lock.json. A successful install records the lock file's sha256 in
# emulators/node_modules/.azbind-lock-sha256. Must run at the repository root.
azbind_emulators() {
	local lock=emulators/package-lock.json
	local stamp=emulators/node_modules/.azbind-lock-sha256
	if [[ -n ${AZBIND_EMULATORS_DIR:-} ]]; then
		echo "emulators: using AZBIND_EMULATORS_DIR=${AZBIND_EMULATORS_DIR} (no install)"
		return 0
	fi
	if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
		echo "emulators: node and npm are required (Node 22 or later; Azurite 3.37 asks for it, Node 20 works with warnings); install them and re-run" >&2
		return 1
	fi
	local want
	want=$(sha256sum "$lock" | cut -d' ' -f1)
	if [[ -f $stamp && "$(<"$stamp")" == "$want" ]]; then
		echo "emulators: emulators/node_modules matches package-lock.json"
		return 0
	fi
	if [[ -L emulators/node_modules ]]; then
		# A shared install linked in (e.g. a git worktree): never let npm ci replace it.
		if [[ -f emulators/node_modules/azurite/dist/src/azurite.js && -f emulators/node_modules/@vercel/cosmosdb-server/package.json && -f emulators/node_modules/rhea/package.json ]]; then
			echo "emulators: emulators/node_modules is a symlink to a shared install; not reinstalling"
			return 0
		fi
		echo "emulators: emulators/node_modules is a symlink to an incomplete install; remove the link or fix its target" >&2
		return 1
	fi
	echo "emulators: npm ci --prefix emulators (package-lock.json changed or nothing installed yet)"
	rm -f "$stamp"
	npm ci --prefix emulators --no-audit --no-fund
	printf '%s\n' "$want" >"$stamp"
}
