"""One module per question type; each defines QUESTION (a catalog.QuestionType)."""
