/**
 * A page that asks again on every filter change and after every action sends requests whose
 * answers can come back in any order: the server answers on several threads at once. An
 * earlier, slower answer must not replace a later one (the dead-letter list under "any"
 * state was overwritten by the "open" list asked for just before it, and a replayed row
 * vanished). Take a ticket before each request; show its answer only while it is current.
 */
export class Latest {
  private last = 0;

  /** A new ticket; every earlier one stops being current. */
  take(): () => boolean {
    const mine = ++this.last;
    return () => mine === this.last;
  }
}
