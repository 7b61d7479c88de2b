/** How commands print results: human lines, or one JSON object per line with --json. */
export function emit(json: boolean, event: Record<string, unknown>, human: string): void {
  process.stdout.write(json ? JSON.stringify(event) + "\n" : human + "\n");
}
