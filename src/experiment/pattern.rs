//! The regular expression of a regex check: JavaScript's `RegExp` in the
//! browser, `regex-lite` natively.
//!
//! The syntax is JavaScript's (ECMAScript, with the `u` flag), as in the
//! tools prompt engineers already use for such checks. In the browser the
//! engine is the page's own `RegExp`, which costs the app bundle nothing,
//! where compiling `regex-lite` in measured 20,204 bytes gzip, more than the
//! bundle had left. Natively (tests, tools) `regex-lite` runs the pattern: it
//! accepts the syntax both share (classes, quantifiers, anchors, groups,
//! alternation, `\d \w \s \b`) and refuses what only JavaScript has
//! (lookaround, backreferences). Ignoring case folds all of Unicode in the
//! browser and ASCII letters natively.

use super::check_error::CheckError;

/// A compiled regular expression, kept with its source text and flag.
#[derive(Clone, Debug)]
pub struct Pattern {
    source: String,
    ignore_case: bool,
    engine: Engine,
}

#[cfg(target_arch = "wasm32")]
type Engine = send_wrapper::SendWrapper<js_sys::RegExp>;

#[cfg(not(target_arch = "wasm32"))]
type Engine = regex_lite::Regex;

impl Pattern {
    /// Compiles `source`; an invalid expression is refused with the engine's reason.
    pub fn new(source: impl Into<String>, ignore_case: bool) -> Result<Pattern, CheckError> {
        let source = source.into();
        match compile(&source, ignore_case) {
            Ok(engine) => Ok(Pattern {
                source,
                ignore_case,
                engine,
            }),
            Err(message) => Err(CheckError::InvalidRegex {
                pattern: source,
                message,
            }),
        }
    }

    /// The expression as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Whether it ignores case.
    pub fn ignores_case(&self) -> bool {
        self.ignore_case
    }

    /// Whether it matches somewhere in `text`.
    pub fn is_match(&self, text: &str) -> bool {
        #[cfg(target_arch = "wasm32")]
        {
            self.engine.test(text)
        }
        #[cfg(not(target_arch = "wasm32"))]
        {
            self.engine.is_match(text)
        }
    }
}

/// Two patterns are equal when their source and flag are.
impl PartialEq for Pattern {
    fn eq(&self, other: &Pattern) -> bool {
        (&self.source, self.ignore_case) == (&other.source, other.ignore_case)
    }
}

#[cfg(target_arch = "wasm32")]
fn compile(source: &str, ignore_case: bool) -> Result<Engine, String> {
    use wasm_bindgen::JsCast;
    let flags = if ignore_case { "iu" } else { "u" };
    // `new RegExp(…)` throws on a bad pattern; Reflect.construct catches it.
    let constructor = js_sys::Reflect::get(&js_sys::global(), &"RegExp".into())
        .map_err(|_| "this browser has no RegExp".to_owned())?;
    let arguments = js_sys::Array::of2(&source.into(), &flags.into());
    match js_sys::Reflect::construct(constructor.unchecked_ref::<js_sys::Function>(), &arguments) {
        Ok(regexp) => Ok(send_wrapper::SendWrapper::new(regexp.unchecked_into())),
        Err(error) => {
            let message: String = error
                .dyn_ref::<js_sys::Error>()
                .map(|error| error.message().into())
                .unwrap_or_else(|| "not a valid pattern".to_owned());
            // "Invalid regular expression: /(a/u: Unterminated group": the
            // pattern is named already, keep the reason.
            let prefix = format!("Invalid regular expression: /{source}/{flags}: ");
            Err(message
                .strip_prefix(&prefix)
                .map(str::to_owned)
                .unwrap_or(message))
        }
    }
}

#[cfg(not(target_arch = "wasm32"))]
fn compile(source: &str, ignore_case: bool) -> Result<Engine, String> {
    regex_lite::RegexBuilder::new(source)
        .case_insensitive(ignore_case)
        .build()
        .map_err(|error| error.to_string())
}
