//! `smi lint`'s optional compiled YAML reader.
//!
//! libyaml's parser (the `unsafe-libyaml` translation of the C library that PyYAML wraps) reads one YAML
//! document and this module builds its Python data directly from the parser's events: no node objects,
//! no Python call per node. It is a fast path, not a second YAML implementation: it reads only documents
//! that need none of the checks of `smi_conformance._yamlparse._Builder` and declines (returns `None`)
//! every other one, which the Python path then reads and reports on. Declined: syntax errors, anchors,
//! aliases, tags, directives, merge keys (`<<`), duplicate keys, collections used as keys, more than one
//! document, nesting deeper than `MAX_DEPTH`. Plain scalars are typed by the Python function the reader
//! is given (`_yamlparse.plain_value`), so both paths give every scalar the same value.
//!
//! With the data it tells whether every scalar has one of JSON's types and is exact there: a string,
//! bool, null, or an integer in 64 bits (no float, timestamp or huge integer). The linter's compiled
//! schema check (`smi_conformance.models.quick_accept`) only judges such data.

use std::mem::MaybeUninit;
use std::ops::{Deref, DerefMut};
use std::sync::{Mutex, MutexGuard, TryLockError};

use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyInt, PyList, PyString, PyTuple};
use rustc_hash::FxHashMap;
#[allow(clippy::unsafe_removed_from_name)] // every call into it is in an unsafe block anyway
use unsafe_libyaml as yaml;

/// Below `_yamlparse.MAX_DEPTH` (200), so the Python path reports a document nested too deep.
const MAX_DEPTH: usize = 150;
/// Scalars up to this many bytes have their Python value cached (manifests repeat kinds, versions,
/// names and keys over and over); at most `CACHE_ENTRIES` of each style.
const CACHE_TEXT: usize = 64;
const CACHE_ENTRIES: usize = 20_000;

type Cache = FxHashMap<Box<[u8]>, Py<PyAny>>;

/// What `Reader` takes and `document` returns, for the Python side to check it has the build it expects: 2
/// added the JSON-typed flag and `typed_start`.
const API: u32 = 2;

/// A libyaml parser reading one string; boxed because libyaml keeps a pointer to it.
struct Parser<'t> {
    raw: Box<MaybeUninit<yaml::yaml_parser_t>>,
    _text: &'t [u8],
}

impl<'t> Parser<'t> {
    fn new(text: &'t [u8]) -> Option<Self> {
        let mut raw = Box::new(MaybeUninit::<yaml::yaml_parser_t>::uninit());
        // SAFETY: initialize fills the parser; the input outlives it (`_text` borrows it).
        unsafe {
            if yaml::yaml_parser_initialize(raw.as_mut_ptr()).fail {
                return None;
            }
            yaml::yaml_parser_set_input_string(raw.as_mut_ptr(), text.as_ptr(), text.len() as u64);
        }
        Some(Parser { raw, _text: text })
    }

    /// The next event, or None on a syntax error.
    fn next(&mut self) -> Option<Event> {
        let mut event = MaybeUninit::<yaml::yaml_event_t>::uninit();
        // SAFETY: yaml_parser_parse zeroes the event before anything else, so it is initialized
        // (and safe to delete) whether it succeeds or not.
        unsafe {
            let failed = yaml::yaml_parser_parse(self.raw.as_mut_ptr(), event.as_mut_ptr()).fail;
            let event = Event(event.assume_init());
            if failed { None } else { Some(event) }
        }
    }
}

impl Drop for Parser<'_> {
    fn drop(&mut self) {
        // SAFETY: initialized in `new`.
        unsafe { yaml::yaml_parser_delete(self.raw.as_mut_ptr()) }
    }
}

struct Event(yaml::yaml_event_t);

impl Drop for Event {
    fn drop(&mut self) {
        // SAFETY: a parsed (or zeroed) event owns its buffers.
        unsafe { yaml::yaml_event_delete(&mut self.0) }
    }
}

/// A collection being built: a mapping (with the key waiting for its value) or a sequence.
enum Frame<'py> {
    Map(Bound<'py, PyDict>, Option<Bound<'py, PyAny>>),
    Seq(Bound<'py, PyList>),
}

/// Reads YAML documents into plain data (dict, list, str and what `plain_value` returns).
#[pyclass(frozen, module = "smi_conformance_yaml")]
struct Reader {
    plain_value: Py<PyAny>,
    /// The ASCII characters a plain scalar that YAML may type (not a string) can start with; a plain scalar
    /// that starts with any other character is a string, without asking `plain_value`.
    typed_start: [bool; 128],
    /// Plain scalars' values, and the text of the others (quoted, block, keys), by their bytes.
    plain: Mutex<Cache>,
    text: Mutex<Cache>,
}

/// A cache for one `document` call: the reader's own, or an empty one when another thread is using it.
/// (Never waited for: that thread holds it while it runs Python code, `plain_value`, which may hand the
/// interpreter to this thread; waiting here, with the interpreter, would deadlock.)
enum CacheRef<'a> {
    Shared(MutexGuard<'a, Cache>),
    Own(Cache),
}

impl CacheRef<'_> {
    fn of(cache: &Mutex<Cache>) -> CacheRef<'_> {
        match cache.try_lock() {
            Ok(guard) => CacheRef::Shared(guard),
            Err(TryLockError::Poisoned(poisoned)) => CacheRef::Shared(poisoned.into_inner()),
            Err(TryLockError::WouldBlock) => CacheRef::Own(Cache::default()),
        }
    }
}

impl Deref for CacheRef<'_> {
    type Target = Cache;
    fn deref(&self) -> &Cache {
        match self {
            CacheRef::Shared(guard) => guard,
            CacheRef::Own(cache) => cache,
        }
    }
}

impl DerefMut for CacheRef<'_> {
    fn deref_mut(&mut self) -> &mut Cache {
        match self {
            CacheRef::Shared(guard) => guard,
            CacheRef::Own(cache) => cache,
        }
    }
}

struct Caches<'a> {
    plain: CacheRef<'a>,
    text: CacheRef<'a>,
}

#[pymethods]
impl Reader {
    /// `plain_value(text)`: the value of a plain (unquoted, untagged) scalar; `typed_start`: the characters
    /// YAML's implicit types start with (PyYAML's resolvers are keyed by them), all ASCII.
    #[new]
    fn new(plain_value: Py<PyAny>, typed_start: &str) -> PyResult<Self> {
        let mut table = [false; 128];
        for byte in typed_start.bytes() {
            if !byte.is_ascii() {
                return Err(pyo3::exceptions::PyValueError::new_err("typed_start must be ASCII"));
            }
            table[byte as usize] = true;
        }
        Ok(Reader {
            plain_value,
            typed_start: table,
            plain: Mutex::new(Cache::default()),
            text: Mutex::new(Cache::default()),
        })
    }

    /// `(data, json_typed)` of the one document in `text` (`(None, True)` for an empty one), or None if
    /// the Python path must read it (see the module's documentation).
    fn document<'py>(&self, py: Python<'py>, text: &str) -> PyResult<Option<Bound<'py, PyTuple>>> {
        let mut caches = Caches {
            plain: CacheRef::of(&self.plain),
            text: CacheRef::of(&self.text),
        };
        let mut json_typed = true;
        match self.read(py, text.as_bytes(), &mut caches, &mut json_typed)? {
            Some(root) => Ok(Some(PyTuple::new(
                py,
                [root, PyBool::new(py, json_typed).to_owned().into_any()],
            )?)),
            None => Ok(None),
        }
    }
}

impl Reader {
    fn scalar<'py>(
        &self,
        py: Python<'py>,
        bytes: &[u8],
        plain: bool,
        caches: &mut Caches<'_>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let cache = if plain {
            &mut caches.plain
        } else {
            &mut caches.text
        };
        let small = bytes.len() <= CACHE_TEXT;
        if small && let Some(value) = cache.get(bytes) {
            return Ok(value.bind(py).clone());
        }
        // libyaml checked the input is UTF-8 and its scalars are whole characters.
        let text = PyString::new(py, &String::from_utf8_lossy(bytes)).into_any();
        let typed = match bytes.first() {
            None => true, // empty: null
            Some(&first) => first.is_ascii() && self.typed_start[first as usize],
        };
        let value = if plain && typed {
            self.plain_value.bind(py).call1((text,))?
        } else {
            text
        };
        if small && cache.len() < CACHE_ENTRIES {
            cache.insert(bytes.into(), value.clone().unbind());
        }
        Ok(value)
    }

    /// The document's data, or None to decline it. `json_typed` is cleared when a plain scalar's value
    /// is not a string, bool, null or 64-bit integer (quoted and block scalars, and keys, are strings).
    fn read<'py>(
        &self,
        py: Python<'py>,
        text: &[u8],
        caches: &mut Caches<'_>,
        json_typed: &mut bool,
    ) -> PyResult<Option<Bound<'py, PyAny>>> {
        let Some(mut parser) = Parser::new(text) else {
            return Ok(None);
        };
        let mut stack: Vec<Frame<'py>> = Vec::new();
        let mut root: Option<Bound<'py, PyAny>> = None;
        let mut documents = 0;
        loop {
            let Some(event) = parser.next() else {
                return Ok(None);
            };
            let event = &event.0;
            // SAFETY (every union read below): the field read is the one of the event's type.
            let value = match event.type_ {
                yaml::YAML_STREAM_START_EVENT | yaml::YAML_DOCUMENT_END_EVENT => continue,
                yaml::YAML_STREAM_END_EVENT => break,
                yaml::YAML_DOCUMENT_START_EVENT => {
                    let start = unsafe { event.data.document_start };
                    documents += 1;
                    let directives = !start.version_directive.is_null()
                        || start.tag_directives.start != start.tag_directives.end;
                    if documents > 1 || directives {
                        return Ok(None);
                    }
                    continue;
                }
                yaml::YAML_SCALAR_EVENT => {
                    let scalar = unsafe { event.data.scalar };
                    if !scalar.anchor.is_null() || !scalar.tag.is_null() {
                        return Ok(None);
                    }
                    let bytes =
                        unsafe { std::slice::from_raw_parts(scalar.value, scalar.length as usize) };
                    let plain = scalar.style == yaml::YAML_PLAIN_SCALAR_STYLE;
                    if let Some(Frame::Map(_, key @ None)) = stack.last_mut() {
                        if plain && bytes == b"<<" {
                            return Ok(None); // a merge key
                        }
                        *key = Some(self.scalar(py, bytes, false, caches)?); // keys are their text
                        continue;
                    }
                    let value = self.scalar(py, bytes, plain, caches)?;
                    if plain && *json_typed && !is_json_typed(&value) {
                        *json_typed = false;
                    }
                    value
                }
                yaml::YAML_SEQUENCE_START_EVENT | yaml::YAML_MAPPING_START_EVENT => {
                    let sequence = event.type_ == yaml::YAML_SEQUENCE_START_EVENT;
                    let (anchor, tag) = unsafe {
                        if sequence {
                            (
                                event.data.sequence_start.anchor,
                                event.data.sequence_start.tag,
                            )
                        } else {
                            (
                                event.data.mapping_start.anchor,
                                event.data.mapping_start.tag,
                            )
                        }
                    };
                    let as_key = matches!(stack.last(), Some(Frame::Map(_, None)));
                    if !anchor.is_null() || !tag.is_null() || as_key || stack.len() >= MAX_DEPTH {
                        return Ok(None);
                    }
                    stack.push(if sequence {
                        Frame::Seq(PyList::empty(py))
                    } else {
                        Frame::Map(PyDict::new(py), None)
                    });
                    continue;
                }
                yaml::YAML_SEQUENCE_END_EVENT | yaml::YAML_MAPPING_END_EVENT => match stack.pop() {
                    Some(Frame::Seq(list)) => list.into_any(),
                    Some(Frame::Map(dict, None)) => dict.into_any(),
                    _ => return Ok(None),
                },
                _ => return Ok(None), // an alias
            };
            match stack.last_mut() {
                None => root = Some(value),
                Some(Frame::Seq(list)) => list.append(value)?,
                Some(Frame::Map(dict, key)) => {
                    let Some(key) = key.take() else {
                        return Ok(None);
                    };
                    let before = dict.len();
                    dict.set_item(key, value)?;
                    if dict.len() == before {
                        return Ok(None); // a duplicate key
                    }
                }
            }
        }
        Ok(Some(root.unwrap_or_else(|| py.None().into_bound(py))))
    }
}

/// A string, bool, None, or an int that fits in 64 bits: exactly (no subclass but bool).
fn is_json_typed(value: &Bound<'_, PyAny>) -> bool {
    value.is_none()
        || value.is_exact_instance_of::<PyString>()
        || value.is_exact_instance_of::<PyBool>()
        || (value.is_exact_instance_of::<PyInt>() && value.extract::<i64>().is_ok())
}

/// Where a node is: 0-based (line, column, end line, end column), columns in characters, as libyaml marks.
type Span = (u64, u64, u64, u64);

/// A node of a document, for locating only: where it is, and what a path can follow.
struct MarkNode {
    span: Span,
    kind: MarkKind,
}

enum MarkKind {
    /// A scalar; its text only when it is a mapping key (what paths match).
    Scalar(Option<Box<[u8]>>),
    Map(Vec<(usize, usize)>),
    Seq(Vec<usize>),
}

fn span(start: &yaml::yaml_mark_t, end: &yaml::yaml_mark_t) -> Span {
    (start.line, start.column, end.line, end.column)
}

/// The node tree of the one document in `text` (marks and key texts only), with its root; None if
/// `compose_marks` must do it (a syntax error, an alias, several documents) or the document is empty.
fn mark_tree(text: &[u8]) -> Option<(Vec<MarkNode>, usize)> {
    let mut parser = Parser::new(text)?;
    let mut nodes: Vec<MarkNode> = Vec::new();
    let mut open: Vec<(usize, Option<usize>)> = Vec::new(); // collections being read, and a key waiting
    let mut root = None;
    let mut documents = 0;
    loop {
        let event = parser.next()?;
        let event = &event.0;
        let index = match event.type_ {
            yaml::YAML_STREAM_START_EVENT | yaml::YAML_DOCUMENT_END_EVENT => continue,
            yaml::YAML_STREAM_END_EVENT => break,
            yaml::YAML_DOCUMENT_START_EVENT => {
                documents += 1;
                if documents > 1 {
                    return None;
                }
                continue;
            }
            yaml::YAML_SCALAR_EVENT => {
                let is_key = matches!(open.last(), Some(&(i, None)) if matches!(nodes[i].kind, MarkKind::Map(_)));
                // SAFETY: a scalar event's scalar data.
                let text = is_key.then(|| unsafe {
                    let scalar = event.data.scalar;
                    Box::from(std::slice::from_raw_parts(
                        scalar.value,
                        scalar.length as usize,
                    ))
                });
                nodes.push(MarkNode {
                    span: span(&event.start_mark, &event.end_mark),
                    kind: MarkKind::Scalar(text),
                });
                nodes.len() - 1
            }
            yaml::YAML_SEQUENCE_START_EVENT | yaml::YAML_MAPPING_START_EVENT => {
                let kind = if event.type_ == yaml::YAML_SEQUENCE_START_EVENT {
                    MarkKind::Seq(Vec::new())
                } else {
                    MarkKind::Map(Vec::new())
                };
                nodes.push(MarkNode {
                    span: span(&event.start_mark, &event.end_mark),
                    kind,
                });
                open.push((nodes.len() - 1, None));
                continue;
            }
            yaml::YAML_SEQUENCE_END_EVENT | yaml::YAML_MAPPING_END_EVENT => {
                let (index, _) = open.pop()?;
                nodes[index].span.2 = event.end_mark.line;
                nodes[index].span.3 = event.end_mark.column;
                index
            }
            _ => return None, // an alias: the composer shares the anchored node; compose_marks does that
        };
        match open.last_mut() {
            None => root = Some(index),
            Some((parent, key)) => match &mut nodes[*parent].kind {
                MarkKind::Seq(items) => items.push(index),
                MarkKind::Map(pairs) => match key.take() {
                    None => *key = Some(index),
                    Some(k) => pairs.push((k, index)),
                },
                MarkKind::Scalar(_) => return None,
            },
        }
    }
    Some((nodes, root?))
}

/// The last document `locate` read and its tree: the linter locates each finding of a document in turn,
/// and a document with several findings is then read once (reading is nearly all of a call's time).
struct LastTree {
    text: Box<[u8]>,
    tree: Option<(Vec<MarkNode>, usize)>,
}

static LAST_TREE: Mutex<Option<LastTree>> = Mutex::new(None);

#[pyfunction]
/// Where the node at `path` is in the one document in `text`, as `_yamlparse.walk` finds it on
/// `compose_marks`' tree: (the deepest node reached, its key if reached through one, whether the whole
/// path was followed), as spans; None when `compose_marks` must do it (see `mark_tree`).
fn locate(text: &str, path: Vec<Bound<'_, PyAny>>) -> PyResult<Option<(Span, Option<Span>, bool)>> {
    let text = text.as_bytes();
    let mut last = match LAST_TREE.try_lock() {
        Ok(guard) => Some(guard),
        Err(TryLockError::Poisoned(poisoned)) => Some(poisoned.into_inner()),
        Err(TryLockError::WouldBlock) => None, // another thread's call: read without the memo
    };
    let own;
    let tree = match last.as_deref_mut() {
        Some(slot) => {
            if !matches!(slot, Some(kept) if &kept.text[..] == text) {
                *slot = Some(LastTree {
                    text: text.into(),
                    tree: mark_tree(text),
                });
            }
            slot.as_ref().and_then(|kept| kept.tree.as_ref())
        }
        None => {
            own = mark_tree(text);
            own.as_ref()
        }
    };
    let Some((nodes, root)) = tree else {
        return Ok(None);
    };
    let (mut node, mut key) = (*root, None);
    for step in &path {
        let next = match &nodes[node].kind {
            MarkKind::Map(pairs) => {
                let wanted = step.str()?;
                let wanted = wanted.to_str()?.as_bytes();
                // the last duplicate wins, as in the data
                pairs.iter().rev().find_map(|&(k, v)| match &nodes[k].kind {
                    MarkKind::Scalar(Some(text)) if &text[..] == wanted => Some((v, Some(k))),
                    _ => None,
                })
            }
            MarkKind::Seq(items) if step.is_instance_of::<PyInt>() => {
                let at: i64 = step.extract()?;
                usize::try_from(at)
                    .ok()
                    .and_then(|i| items.get(i))
                    .map(|&v| (v, None))
            }
            _ => None,
        };
        match next {
            Some((n, k)) => (node, key) = (n, k),
            None => return Ok(Some((nodes[node].span, key.map(|k| nodes[k].span), false))),
        }
    }
    Ok(Some((
        nodes[node].span,
        key.map(|k: usize| nodes[k].span),
        true,
    )))
}

#[pymodule]
fn smi_conformance_yaml(module: &Bound<'_, PyModule>) -> PyResult<()> {
    module.add("API", API)?;
    module.add_class::<Reader>()?;
    module.add_function(wrap_pyfunction!(locate, module)?)?;
    Ok(())
}
