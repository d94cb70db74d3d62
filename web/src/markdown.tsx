// Markdown for agent output, rendered to elements, never to HTML strings: whatever an
// agent writes (<script>, <img onerror>) ends up as text. Fenced code blocks, headings,
// lists, paragraphs; inline code, bold, and http(s) links.
import { ComponentChildren } from 'preact';

function inline(text: string): ComponentChildren[] {
  const out: ComponentChildren[] = [];
  const re = /(`[^`]+`)|(\*\*[^*]+\*\*)|(\[[^\]]+\]\((https?:\/\/[^)\s]+)\))/g;
  let at = 0;
  for (let m; (m = re.exec(text)); ) {
    if (m.index > at) out.push(text.slice(at, m.index));
    if (m[1]) out.push(<code>{m[1].slice(1, -1)}</code>);
    else if (m[2]) out.push(<strong>{m[2].slice(2, -2)}</strong>);
    else if (m[3]) out.push(<a href={m[4]} target="_blank" rel="noopener noreferrer">{m[3].slice(1, m[3].indexOf(']'))}</a>);
    at = m.index + m[0].length;
  }
  if (at < text.length) out.push(text.slice(at));
  return out;
}

// A light highlighter for code blocks, to elements: comments, strings, numbers and the
// keywords most languages share. Not a parser: it only helps the eye.
const KEYWORDS = new Set(('if else for while do return function const let var class struct def import from export ' +
  'public private protected static void int bool true false null nullptr None True False new delete try catch ' +
  'throw async await fn pub use mod impl match case switch break continue namespace template typename auto ' +
  'include package interface type enum yield lambda self this').split(' '));

function highlight(code: string): ComponentChildren[] {
  const out: ComponentChildren[] = [];
  const re = /(\/\/[^\n]*|#[^\n]*|\/\*[\s\S]*?\*\/)|("(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'|`[^`]*`)|(\b\d[\d_.]*\b)|([A-Za-z_][\w]*)/g;
  let at = 0;
  for (let m; (m = re.exec(code)); ) {
    if (m[4] && !KEYWORDS.has(m[4])) continue;
    if (m.index > at) out.push(code.slice(at, m.index));
    const cls = m[1] ? 'tok-comment' : m[2] ? 'tok-string' : m[3] ? 'tok-number' : 'tok-keyword';
    out.push(<span class={cls}>{m[0]}</span>);
    at = m.index + m[0].length;
  }
  if (at < code.length) out.push(code.slice(at));
  return out;
}

export function Markdown({ text }: { text: string }) {
  const blocks: ComponentChildren[] = [];
  const lines = text.split('\n');
  let para: string[] = [];
  let list: string[] = [];
  const flush = () => {
    if (para.length) blocks.push(<p>{inline(para.join(' '))}</p>);
    if (list.length) blocks.push(<ul>{list.map((l) => <li>{inline(l)}</li>)}</ul>);
    para = [];
    list = [];
  };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    const fence = line.match(/^```\s*([\w+-]*)/);
    if (fence) {
      flush();
      const code: string[] = [];
      for (i++; i < lines.length && !lines[i].startsWith('```'); i++) code.push(lines[i]);
      blocks.push(<pre class="code"><code class={fence[1] ? `language-${fence[1]}` : ''}>{highlight(code.join('\n'))}</code></pre>);
      continue;
    }
    const heading = line.match(/^(#{1,4})\s+(.*)/);
    if (heading) {
      flush();
      blocks.push(<p class={`h h${heading[1].length}`}><strong>{inline(heading[2])}</strong></p>);
    } else if (/^\s*[-*]\s+/.test(line)) {
      if (para.length) { blocks.push(<p>{inline(para.join(' '))}</p>); para = []; }
      list.push(line.replace(/^\s*[-*]\s+/, ''));
    } else if (!line.trim()) {
      flush();
    } else {
      if (list.length) { blocks.push(<ul>{list.map((l) => <li>{inline(l)}</li>)}</ul>); list = []; }
      para.push(line);
    }
  }
  flush();
  return <div class="md">{blocks}</div>;
}
