import type { Driver } from './platform/types';

export interface LifecycleHandlers {
  show(): void;
  hide(): void;
  network(online: boolean): void;
}

/**
 * Subscribes to the platform's app show/hide and network hooks (those it has) and returns one
 * function removing all of them. Calls after disposal are ignored, for hosts without off*().
 */
export function watchLifecycle(driver: Driver, h: LifecycleHandlers): () => void {
  let live = true;
  const offs = [
    driver.onShow && driver.onShow(() => live && h.show()),
    driver.onHide && driver.onHide(() => live && h.hide()),
    driver.onNetwork && driver.onNetwork((online) => live && h.network(online)),
  ];
  return () => {
    live = false;
    for (const off of offs) if (off) off();
  };
}
