// Process facts shared by the rooms that leave files behind for other processes (collection saves, hub
// locks, the model generator): one answer to "is this pid still running?".

/** True while a process with this pid exists on this host (EPERM: it exists but belongs to someone else). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
