//! A small line graph of recent usage figures (0.0 to 1.0), like
//! virt-manager's CPU column.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;

use gtk4::prelude::*;

/// How many samples a sparkline keeps.
pub const HISTORY: usize = 40;

/// A drawing area with its own sample history.
#[derive(Clone)]
pub struct Sparkline {
    area: gtk4::DrawingArea,
    samples: Rc<RefCell<VecDeque<f64>>>,
}

impl Sparkline {
    /// Creates an empty sparkline `width`×`height` pixels.
    pub fn new(width: i32, height: i32) -> Self {
        let area = gtk4::DrawingArea::builder()
            .content_width(width)
            .content_height(height)
            .valign(gtk4::Align::Center)
            .css_classes(["sparkline"])
            .build();
        let samples: Rc<RefCell<VecDeque<f64>>> = Rc::default();
        let weak_samples = Rc::downgrade(&samples);
        area.set_draw_func(move |area, cr, width, height| {
            let Some(samples) = weak_samples.upgrade() else {
                return;
            };
            let color = area.style_context().color();
            draw(cr, &samples.borrow(), width, height, &color);
        });
        Self { area, samples }
    }

    /// The widget to pack.
    pub fn widget(&self) -> &gtk4::DrawingArea {
        &self.area
    }

    /// Appends one sample, clamped to 0..=1, and redraws.
    pub fn push(&self, value: f64) {
        let mut samples = self.samples.borrow_mut();
        samples.push_back(value.clamp(0.0, 1.0));
        while samples.len() > HISTORY {
            samples.pop_front();
        }
        drop(samples);
        self.area.queue_draw();
    }
}

fn draw(
    cr: &gtk4::cairo::Context,
    samples: &VecDeque<f64>,
    width: i32,
    height: i32,
    color: &gtk4::gdk::RGBA,
) {
    let (w, h) = (f64::from(width), f64::from(height));
    cr.set_source_rgba(
        color.red().into(),
        color.green().into(),
        color.blue().into(),
        0.25,
    );
    cr.rectangle(0.5, 0.5, w - 1.0, h - 1.0);
    cr.set_line_width(1.0);
    // Drawing errors only mean a lost frame; the next sample redraws.
    let _ = cr.stroke();
    if samples.len() < 2 {
        return;
    }
    let step = w / (HISTORY - 1) as f64;
    let start = w - step * (samples.len() - 1) as f64;
    cr.move_to(start, h);
    for (i, value) in samples.iter().enumerate() {
        cr.line_to(start + step * i as f64, h - 1.0 - value * (h - 2.0));
    }
    cr.line_to(w, h);
    cr.close_path();
    cr.set_source_rgba(0.21, 0.52, 0.89, 0.35);
    let _ = cr.fill_preserve();
    cr.set_source_rgba(0.21, 0.52, 0.89, 1.0);
    cr.set_line_width(1.5);
    let _ = cr.stroke();
}
