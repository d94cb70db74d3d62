// What every page may use: the signed-in person, their organizations, the one in view
// with its live tasks, the feed, and the page title. Provided by the shell (main.tsx).
import { createContext } from 'preact';
import { useContext, useEffect } from 'preact/hooks';
import { Json } from './ui';

export interface Feed {
  items: Map<string, Json>;  // task id → feed item (unread, bumped_at, reason …)
  unread: number;
}

export interface App {
  user: Json;
  orgs: Json[];
  org: Json | null;                // the organization in view (or last in view)
  role: string;
  tasks: Json[] | null;            // its live tasks (not archived or killed), kept current
  feed: Feed;
  newTask: () => void;
  markRead: (taskId: string) => void;
}

export const AppContext = createContext<App>(null as any);
export const useApp = () => useContext(AppContext);

// Sets the page title: the page's name, and how many tasks need you first.
export function useTitle(name: string) {
  const { tasks } = useApp();
  const n = (tasks ?? []).filter((t) => t.needs_you).length;
  useEffect(() => {
    document.title = `${n ? `(${n} need${n === 1 ? 's' : ''} you) ` : ''}${name ? name + ' · ' : ''}Hearth`;
  }, [name, n]);
}

// A summary from a live event applied to a list: the newer by version wins, and a task
// `keep` refuses (archived, not matching a filter) leaves the list.
export function mergeSummary(list: Json[], s: Json, keep: (t: Json) => boolean): Json[] {
  const old = list.find((t) => t.task_id === s.task_id);
  if (old && (old.version ?? 0) > (s.version ?? 0)) return list;
  const rest = list.filter((t) => t.task_id !== s.task_id);
  return keep(s) ? [{ ...old, ...s }, ...rest] : rest;
}

