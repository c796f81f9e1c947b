"""The book's own code: what the chapters call and nothing else does. The chapters'
namespace of experiments (:mod:`.experiments`), figures (:mod:`.plots`), interactive
explorers (:mod:`.widgets`), the BN blind spot's mechanism (:mod:`.blindspot`) and the
primer's arithmetic (:mod:`.primer`). The last wing: it may import every other, and only the
command line and the top-level entry points import it."""
