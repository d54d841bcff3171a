"""Quizzes: the question banks, the widget learners answer in, the instructor key and grading.

    from alignkit import quiz
    quiz.show("04_ppo_rlhf")      # the chapter's graded quiz (a widget, or static text in CI)
    quiz.export()                 # the file a learner hands in

Modules: `bank` (the YAML banks and their salted hashes), `widget` (show, export, the responses file),
`key` (`alignkit quiz-key`: the instructor key) and `grade` (`alignkit grade`).
"""
from alignkit.quiz.widget import (SUBMISSION_FORMAT, SUBMISSION_VERSION, AnswerTypeError, Feedback, Quiz,
                                  alignkit_home, export, learner_id, read_responses, render_static, responses_path,
                                  show)

__all__ = ["show", "export", "Quiz", "Feedback", "AnswerTypeError", "alignkit_home", "responses_path",
           "learner_id", "read_responses", "render_static", "SUBMISSION_FORMAT", "SUBMISSION_VERSION"]
