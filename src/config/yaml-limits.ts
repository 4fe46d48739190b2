// Apart from the parser: the cached-project path reads tug.yaml bounded without loading yaml.
/**
 * What tug accepts in tug.yaml. A real one is a few KiB with a few hundred nodes nested less
 * than ten deep; these leave two orders of magnitude of room and keep a hostile file (an alias
 * bomb, a 50 MB file, a 100k-node list, 20k nested brackets) to one clear error in well under
 * a second, instead of minutes of parsing or a stack overflow reported as an internal error.
 */
export const YAML_LIMITS = {
  bytes: 1 << 20,
  nodes: 50_000,
  depth: 64,
  /** Aliases written in the file (`*name`). */
  aliases: 100,
  /** Nodes reached through aliases when expanded (the yaml package's maxAliasCount). */
  aliasExpansion: 1000,
} as const;
